"""End to end in a real browser: `sitter studio` on a free local port, driven by Playwright over Chromium,
consent -> create -> verify -> audit, with a screenshot of each page under test-output/browser/.

Needs Chromium (Debian's `chromium` package) and the `playwright` Python package; without them the test
skips and says why (and fails in CI: tests/servers.py `missing`).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from servers import free_port, missing, wait_healthy

from provenance import Verdict, verify
from studio.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Page

DATA = Path(__file__).parent / "data"
SHOTS = Path(__file__).parents[1] / "test-output" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]
WAIT_MS = 60_000


def _missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).is_file():
        return "no Chromium at /usr/bin/chromium (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser_ready() -> None:
    reason = _missing()
    if reason:
        missing(reason)


@pytest.fixture
def studio_url(home: Path) -> Iterator[str]:
    """`sitter studio` started as a user would, on a free port, stopped afterwards."""
    port = free_port()
    env = {**os.environ, "SITTER_DB_URL": "", "SITTER_OPERATOR": "desk-e2e"}
    sitter = Path(sys.executable).with_name("sitter")
    server = subprocess.Popen([str(sitter), "studio", "--port", str(port), "--home", str(home)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_studio_serves_and_reports_healthy(studio_url: str) -> None:
    with urllib.request.urlopen(f"{studio_url}/_stcore/health", timeout=10) as answer:
        assert answer.read() == b"ok"


def test_consent_then_create_then_verify_in_a_browser(browser_ready: None, studio_url: str, home: Path,
                                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # a render on a busy machine takes longer than expect's default 5 s
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(WAIT_MS)

        page.goto(f"{studio_url}/consent")
        page.get_by_text("Add a record").click()
        page.get_by_role("textbox", name="Name", exact=True).fill("Ada Example")
        page.get_by_role("textbox", name="Given by").fill("Ada Example")
        _pick(page, "Allowed purposes", "marketing")
        _upload(page, "Evidence", tmp_path / "release.pdf", b"%PDF-1.4 signed release, stand-in")
        _upload(page, "Source images", DATA / "einstein_photo.jpg")
        page.get_by_role("button", name="Add record").click()
        expect(page.get_by_text("Recorded consent record")).to_be_visible()
        page.screenshot(path=SHOTS / "1-consent.png", full_page=True)

        page.get_by_role("link", name="Create").click()
        _upload(page, "Portrait or artwork images", DATA / "einstein_photo.jpg")
        expect(page.get_by_text("Consent record", exact=True)).to_be_visible()
        _upload(page, "import them", DATA / "einstein_photo.landmarks.json")
        expect(page.get_by_text("Landmarks over the image")).to_be_visible()
        page.get_by_role("button", name="Render").click()
        expect(page.get_by_text("Labeled and signed: watermark")).to_be_visible()
        page.screenshot(path=SHOTS / "2-create.png", full_page=True)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download the video").click()
        video = tmp_path / "downloaded.mp4"
        download.value.save_as(video)

        page.get_by_role("link", name="Verify").click()
        _upload(page, "A video clip", video)
        expect(page.get_by_text("This video was made by AI with Sitter")).to_be_visible()
        expect(page.get_by_text("Invisible watermark")).to_be_visible()
        expect(page.locator('[data-testid="stVegaLiteChart"]')).to_be_visible()  # confidence over time
        page.screenshot(path=SHOTS / "3-verify.png", full_page=True)

        page.get_by_role("link", name="Audit").click()
        page.get_by_role("button", name="Verify the ledger").click()
        expect(page.get_by_text("Ledger intact: 2 rows")).to_be_visible()
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(2)  # the timeline and the outputs
        expect(page.locator('[data-testid="stVegaLiteChart"]')).to_be_visible()
        page.screenshot(path=SHOTS / "4-audit.png", full_page=True)
        browser.close()

    settings = Settings(home, f"sqlite:///{home / 'sitter.db'}")
    report = verify(video, trust_anchors=settings.known_trust_anchors())
    assert report.verdict is Verdict.LABELED
    with settings.open_ledger() as ledger:
        [record] = ledger.records()
        assert record.uses == 1 and ledger.events()[-1].body["operator"] == "desk-e2e"
    assert all((SHOTS / f"{name}.png").stat().st_size > 10_000 for name in ("1-consent", "2-create", "3-verify",
                                                                             "4-audit"))


# helpers


def _upload(page: "Page", label: str, path: Path, content: bytes | None = None) -> None:
    """Put a file into the uploader whose label contains `label` (written first when `content` is given)."""
    from playwright.sync_api import expect

    if content is not None:
        path.write_bytes(content)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    uploader.locator('input[type="file"]').set_input_files(path)
    uploader.locator('[data-testid="stFileChip"]').first.wait_for()
    expect(uploader.locator('[data-testid="stFileChipIconSpinner"]')).to_have_count(0)


def _pick(page: "Page", label: str, option: str, tries: int = 5) -> None:
    """Choose `option` in a multiselect. A rerun of the page (a text field just filled) can close the list under the
    click, so the list is opened again until the option is chosen."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    select = page.locator('[data-testid="stMultiSelect"]').filter(has_text=label)
    for attempt in range(tries):
        select.click()
        try:
            page.get_by_role("option", name=option).click(timeout=WAIT_MS // tries)
            break
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise
    page.keyboard.press("Escape")
