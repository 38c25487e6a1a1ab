"""`sitter demo`: a labeled, consented video from the sample portrait that ships with Sitter, offline.

The sample is William-Adolphe Bouguereau's painted portrait of a young girl holding a book (oil on
canvas, 19th century, public domain), with its landmarks in a JSON file beside it (so no face-detector
weights are needed). The demo puts a rights
record for it on the ledger (once), renders it through the one pipeline, and verifies the result.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

from consent import Artwork, ConsentRefused, Ledger, Rights, authorize
from provenance import Output, VerifyReport, verify
from studio.pipeline import Progress, RenderRequest, render
from studio.settings import Settings

SAMPLE = "bouguereau_girl.jpg"
PURPOSE = "exhibit"
EVIDENCE = """Sample portrait shipped with Sitter: William-Adolphe Bouguereau (1825-1905), a young girl holding a
book, oil painting. The painter died over 70 years ago: the work is in the public domain. This note
stands in for a rights document in the demo.
"""


@dataclass(frozen=True)
class DemoResult:
    record_id: str
    output: Output
    report: VerifyReport


def run_demo(settings: Settings, operator: str, on_progress: Progress | None = None,
             seconds: float = 6.0) -> DemoResult:
    """Record the sample's rights (first run only), render it talking, verify the output."""
    sample = Path(str(files("studio") / "samples" / SAMPLE))
    landmarks = sample.with_name(sample.stem + ".landmarks.json")
    # a name of its own each time: two demos in one second must not meet at one path (renders never overwrite)
    out = settings.outputs_dir / f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}.mp4"
    with settings.open_studio() as studio:
        record_id = _rights_record(studio.ledger, sample, operator, settings.home)
        request = RenderRequest(sources=(sample,), landmarks=(landmarks,), purpose=PURPOSE, operator=operator,
                                out=out, record_id=record_id, motion="talk", seconds=seconds)
        output = render(request, studio, on_progress)
        report = verify(output.path, trust_anchors=settings.known_trust_anchors(), registry=studio.registry,
                        ledger=studio.ledger)
    return DemoResult(record_id, output, report)


# helpers


def _rights_record(ledger: Ledger, sample: Path, operator: str, home: Path) -> str:
    """The active record covering the sample for exhibits, added on first use."""
    try:
        return authorize(ledger, [sample], PURPOSE, operator).record_id
    except ConsentRefused:
        pass
    evidence = home / "demo-rights-note.txt"  # the evidence store keeps its copy; this one goes once it is taken
    evidence.touch(mode=0o600)
    evidence.write_text(EVIDENCE)
    try:
        return _grant(ledger, sample, operator, evidence)
    finally:
        evidence.unlink(missing_ok=True)


def _grant(ledger: Ledger, sample: Path, operator: str, evidence: Path) -> str:
    """Record the sample's rights (a public-domain painting) for exhibits; its id."""
    record = ledger.grant(
        kind="artwork",
        name="Young girl holding a book (sample)",
        grantor="Sitter demo",
        purposes=[PURPOSE],
        expires=(datetime.now(UTC) + timedelta(days=365)).date(),
        evidence=evidence,
        images=[sample],
        operator=operator,
        artwork=Artwork(title="Young girl holding a book (sample)", creator="William-Adolphe Bouguereau",
                        rights=Rights.PUBLIC_DOMAIN, date="19th century"),
    )
    return record.record_id
