"""The `sitter` command line. Every command is thin: parse, call one library function, print.

Exit codes: 0 ok, 1 a check failed (the ledger does not verify) or a render worker failed, 2 bad input, 3 consent
refused.
Domain errors become one line on stderr, never a traceback.

Each command imports what it needs when it runs (the parts' names load on first use, sitter.lazy), so `sitter --help`
or `sitter consent list` does not pay for the engine, C2PA or FFmpeg; bench/bench_cli.py measures it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

import consent
import engine
import provenance
from sitter.errors import SitterError
from sitter.text import shown
from studio.settings import Settings

if TYPE_CHECKING:
    from consent import Ledger, Record
    from provenance import Output, RegistryLookup, SoundReport, VerifyReport

LABELS = "sitter.labels"  # ctx.meta: file name -> the option it came from


class Failure(click.ClickException):
    """A domain error shown as one line ("Error: ...") with its own exit code. The file it concerns is named by the
    option it was given with (`--source #2`), never by its name: a file name is often a person's name."""

    def __init__(self, err: SitterError, labels: dict[str, str]) -> None:
        path = getattr(err, "path", None)
        label = (labels.get(str(path)) or labels.get(_absolute(path))) if path is not None else None
        super().__init__(f"{label}: {err}" if label else str(err))
        self.exit_code = err.exit_code


class SitterCommand(click.Command):
    """Remembers which option each file name was given with, for Failure to say."""

    def invoke(self, ctx: click.Context) -> object:
        labels = ctx.meta.setdefault(LABELS, {})
        for param in self.params:
            values = ctx.params.get(param.name)
            many = isinstance(values, tuple | list)
            for position, value in enumerate(values if many else [values], 1):
                if isinstance(value, str | Path) and param.opts[0].startswith("--"):
                    label = f"{param.opts[0]} #{position}" if many and len(values) > 1 else param.opts[0]
                    labels.setdefault(str(value), label)
                    labels.setdefault(_absolute(value), label)
        return super().invoke(ctx)


class SitterGroup(click.Group):
    """Turns the domain errors of every subcommand into Failure, and every error into one line on stderr."""

    command_class = SitterCommand
    group_class = type  # subgroups are SitterGroups too

    def main(self, *args: object, standalone_mode: bool = True, **kwargs: object) -> object:
        """As click's, except that a usage error is one line ("Error: ..."), without the usage and a hint around it:
        every error the CLI reports, its own or the domain's, reads the same."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as err:
            click.echo(f"Error: {' '.join(err.format_message().split())}", err=True)
            sys.exit(err.exit_code)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except SitterError as err:
            raise Failure(err, ctx.meta.get(LABELS, {})) from err


class DomainChoice(click.Choice):
    """A choice among names a part defines (motion presets, engines, rights), looked up when a command first needs
    them: defining the CLI must not import the engine, which every command, `--help` included, would pay for."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        self.names = names
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self.names())

    @choices.setter
    def choices(self, _: object) -> None:
        """click.Choice sets its choices when it is made; these are looked up instead."""


class DomainDefault(click.Option):
    """An option whose default (a callable) comes from a part: called when the command runs or its help is shown,
    which then shows the value itself rather than "(dynamic)"."""

    def get_default(self, ctx: click.Context, call: bool = True) -> object:
        return super().get_default(ctx, call=True)


def _absolute(path: object) -> str:
    return str(Path(str(path)).expanduser().absolute())


# shared options

def json_option(command: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(command)


def operator_option(command: Callable) -> Callable:
    return click.option(
        "--operator",
        default=lambda: click.get_current_context().find_object(Settings).operator,
        show_default="$SITTER_OPERATOR or your login name",
        help="Who is doing this; recorded in the ledger.",
    )(command)


def with_ledger(command: Callable) -> Callable:
    """Open the ledger for the command and pass it as `ledger`; close it afterwards."""

    @click.pass_obj
    @functools.wraps(command)
    def wrapper(settings: Settings, *args: object, **kwargs: object) -> object:
        with settings.open_ledger() as ledger:
            return command(ledger, *args, **kwargs)

    return wrapper


# the group

@click.group(cls=SitterGroup)
@click.option("--db", "db_url", metavar="URL", help="Database URL (default: $SITTER_DB_URL or a SQLite file "
              "in $SITTER_HOME).")
@click.version_option(package_name="sitter")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """Sitter: consented, labeled talking-head videos from still portraits.

    Data (database, keys, evidence, outputs) lives in $SITTER_HOME, default ~/.sitter.
    """
    settings = Settings.from_env()
    ctx.obj = dataclasses.replace(settings, database_url=db_url) if db_url else settings


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    cli(prog_name="sitter")


# consent

@cli.group("consent", cls=SitterGroup)
def consent_group() -> None:
    """Consent records: add, list, show, revoke, erase, verify the ledger, print a receipt."""


@consent_group.command("add")
@click.option("--kind", type=click.Choice(["person", "artwork"]), required=True, help="Who or what is animated.")
@click.option("--name", required=True, help="The person's name, or the artwork's common name.")
@click.option("--grantor", required=True, help="Who gave consent: the person, or the rights holder's representative.")
@click.option("--purpose", "purposes", multiple=True, required=True,
              help="An allowed purpose (repeatable): exhibit, marketing, internal, education, research, speech.")
@click.option("--expires", required=True, metavar="YYYY-MM-DD", help="Last day the consent is valid.")
@click.option("--evidence", required=True, metavar="FILE", help="The signed consent form or consent video.")
@click.option("--image", "images", multiple=True, required=True, metavar="IMG",
              help="A source image the consent covers (repeatable).")
@click.option("--contact", default="", help="How to reach the grantor (kept as erasable personal data).")
@click.option("--title", help="Artwork title (default: --name).")
@click.option("--creator", help="Artwork creator.")
@click.option("--date", "made", default="", help="When the artwork was made.")
@click.option("--institution", default="", help="The institution holding the artwork.")
@click.option("--rights", type=DomainChoice(lambda: [r.value for r in consent.Rights]),
              help="The artwork's rights status.")
@operator_option
@json_option
@with_ledger
def consent_add(ledger: Ledger, kind: str, name: str, grantor: str, purposes: tuple[str, ...], expires: str,
                evidence: str, images: tuple[str, ...], contact: str, title: str | None, creator: str | None,
                made: str, institution: str, rights: str | None, operator: str, as_json: bool) -> None:
    """Record a consent (or an artwork's rights) and print the new record id.

    Example:

        sitter consent add --kind person --name "Ada Example" --grantor "Ada Example" \\
            --purpose marketing --expires 2027-06-30 --evidence form.pdf --image ada.jpg
    """
    artwork = consent.Artwork(title=title or name, creator=creator or "", rights=rights, date=made,
                      institution=institution) if kind == "artwork" else None
    record = ledger.grant(kind=kind, name=name, grantor=grantor, purposes=purposes, expires=expires,
                          evidence=evidence, images=images, operator=operator, artwork=artwork, contact=contact)
    click.echo(json.dumps(record.to_dict(_now())) if as_json else record.record_id)


@consent_group.command("list")
@json_option
@with_ledger
def consent_list(ledger: Ledger, as_json: bool) -> None:
    """List every consent record, newest first.

    Example:

        sitter consent list --json
    """
    now = _now()
    records = ledger.records()
    if as_json:
        click.echo(json.dumps([r.to_dict(now) for r in records], indent=2))
        return
    click.echo(f"{'ID':<16}  {'KIND':<7}  {'STATUS':<7}  {'EXPIRES':<10}  {'IMGS':>4}  {'USES':>4}  "
               f"PURPOSES / SUBJECT")
    for r in records:
        click.echo(shown(f"{r.record_id:<16}  {r.kind.value:<7}  {r.status(now).value:<7}  "
                          f"{r.expires.isoformat():<10}  {len(r.sources):>4}  {r.uses:>4}  {','.join(r.purposes)} / "
                          f"{r.subject_label()}"))


@consent_group.command("show")
@click.argument("record_id")
@json_option
@with_ledger
def consent_show(ledger: Ledger, record_id: str, as_json: bool) -> None:
    """Show one consent record and its history.

    Example:

        sitter consent show 3f9c2a7be01d44c5
    """
    record = ledger.get(record_id)
    now = _now()
    if as_json:
        click.echo(json.dumps({**record.to_dict(now), "events": [e.to_dict() for e in record.events]}, indent=2))
        return
    click.echo(_describe(record, now))


@consent_group.command("revoke")
@click.argument("record_id")
@click.option("--reason", required=True, help="Why (kept as erasable personal data).")
@operator_option
@with_ledger
def consent_revoke(ledger: Ledger, record_id: str, reason: str, operator: str) -> None:
    """Withdraw a consent: no render may use the record from now on, renders in flight are stopped.

    Example:

        sitter consent revoke 3f9c2a7be01d44c5 --reason "subject withdrew by email"
    """
    record = ledger.revoke(record_id, reason=reason, operator=operator)
    click.echo(f"revoked {record.record_id}")


@consent_group.command("erase")
@click.argument("record_id")
@click.confirmation_option(prompt="Erase this record's personal data and evidence for good?")
@operator_option
@with_ledger
def consent_erase(ledger: Ledger, record_id: str, operator: str) -> None:
    """Erase a record's personal data and evidence (right to erasure); the ledger keeps only hashes.

    Example:

        sitter consent erase 3f9c2a7be01d44c5 --yes
    """
    record = ledger.erase(record_id, operator=operator)
    click.echo(f"erased {record.record_id}")


@consent_group.command("verify-ledger")
@json_option
@with_ledger
def consent_verify_ledger(ledger: Ledger, as_json: bool) -> None:
    """Walk the ledger's hash chain and signatures; exit 1 naming the first bad row.

    Example:

        sitter consent verify-ledger
    """
    try:
        rows = ledger.require_intact()
    except consent.LedgerTampered as err:
        if as_json:
            click.echo(json.dumps({"ok": False, "rows": None,
                                   "fault": {"seq": err.fault.seq, "reason": err.fault.reason}}))
        raise
    if as_json:
        click.echo(json.dumps({"ok": True, "rows": rows, "fault": None}))
    else:
        click.echo(f"ledger intact: {rows} rows, every hash link and signature verifies")


@consent_group.command("receipt")
@click.argument("record_id")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the receipt to this file.")
@click.pass_obj
def consent_receipt(settings: Settings, record_id: str, out: str | None) -> None:
    """Print the signed consent receipt (Kantara Consent Receipt JSON) a subject can keep.

    Example:

        sitter consent receipt 3f9c2a7be01d44c5 --out receipt.json
    """
    with settings.open_ledger() as ledger:
        text = json.dumps(consent.receipt(ledger.get(record_id), ledger.key, settings.controller), indent=2)
    if out:
        _write_atomic(Path(out), text + "\n")
        click.echo(f"wrote {out}")
    else:
        click.echo(text)


# render and demo

@cli.command("render")
@click.option("--consent", "record_id", metavar="ID", help="The consent record to render under (default: any "
              "record that covers the sources and allows the purpose).")
@click.option("--source", "sources", multiple=True, required=True, type=click.Path(path_type=Path), metavar="IMG",
              help="A source image (repeatable); the warp engine animates the first, the neural engine learns "
              "the face from all.")
@click.option("--driver", type=click.Path(path_type=Path), metavar="VIDEO",
              help="A driving video, or its landmark track as JSON.")
@click.option("--driver-landmarks", type=click.Path(path_type=Path), metavar="JSON",
              help="The driving video's landmark track (one entry per frame), instead of detecting it.")
@click.option("--motion", type=DomainChoice(lambda: engine.PRESETS),
              help="A motion preset, when there is no driver (default: talk).")
@click.option("--landmarks", multiple=True, type=click.Path(path_type=Path), metavar="JSON",
              help="Landmarks for a source image (one per --source), for faces detection misses.")
@click.option("--engine", type=DomainChoice(lambda: _pipeline().ENGINES), default="warp", show_default=True)
@click.option("--checkpoint", type=click.Path(path_type=Path, dir_okay=False), metavar="CKPT",
              help="The neural engine's meta-learned checkpoint (sitter train makes one), or its export (sitter "
              "export; feed-forward only).")
@click.option("--finetune-steps", type=click.IntRange(0), default=0, show_default=True,
              help="Neural engine: fine-tune on the source images for N steps first (0: feed-forward).")
@click.option("--seconds", type=float, default=6.0, show_default=True,
              help="Length of a preset; a driver runs its own length, at most this.")
@click.option("--fps", type=float, default=25.0, show_default=True)
@click.option("--size", type=int, default=512, show_default=True, help="Output frames are SIZE x SIZE pixels.")
@click.option("--label", cls=DomainDefault, default=lambda: provenance.DisclosureStyle.caption, show_default=True,
              help="The visible caption shown for the first seconds.")
@click.option("--label-corner", cls=DomainDefault, type=DomainChoice(lambda: [c.value for c in provenance.Corner]),
              default=lambda: provenance.DisclosureStyle.corner.value,
              show_default=True, help="Where the small AI mark sits for the whole clip.")
@click.option("--no-visible-label", is_flag=True, help="No visible caption or mark (the invisible watermark and "
              "the signed manifest stay: they cannot be turned off).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Makes a preset's motion reproducible.")
@click.option("--say", metavar="TEXT", help="A text for the face to speak (espeak-ng, offline); the video lasts as "
              "long as the speech. Needs consent for 'speech'.")
@click.option("--voice", metavar="V", help="An espeak-ng voice for --say: f1-f5, m1-m7, whisper, ... "
              "(espeak-ng --voices=variant).")
@click.option("--language", metavar="L", help="The language of --say: en, en-us, fr, de, ... (espeak-ng --voices); "
              "default en.")
@click.option("--audio", type=click.Path(path_type=Path), metavar="FILE",
              help="A recorded voice (WAV, MP3, M4A) to lip-sync to; it becomes the sound track. Needs consent for "
              "'speech'.")
@click.option("--no-audio", is_flag=True, help="Leave a driving video's sound out (a video with sound needs consent "
              "for 'speech').")
@click.option("--purpose", required=True, help="What the video is for; the consent record must allow it.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="The MP4 to write.")
@click.option("--overwrite", is_flag=True, help="Replace a file already at --out (otherwise that is refused).")
@operator_option
@json_option
@click.pass_obj
def render_command(settings: Settings, motion: str | None, landmarks: tuple[Path, ...], label: str,
                   label_corner: str, no_visible_label: bool, language: str | None, no_audio: bool, as_json: bool,
                   **fields: object) -> None:
    """Render a labeled, signed talking-head video of consented source images.

    Exit 0 ok, 2 bad input, 3 consent refused; nothing is written at --out unless everything succeeded.

    Example:

        sitter render --consent 3f9c2a7be01d44c5 --source ada.jpg --motion talk --seconds 8 \\
            --purpose marketing --out ada-talking.mp4

        sitter render --consent 3f9c2a7be01d44c5 --source ada.jpg --say "Hello, I am Ada." --voice f3 \\
            --purpose marketing --out ada-speaking.mp4
    """
    movers = [flag for flag, given in (("--driver", fields["driver"]), ("--motion", motion), ("--say", fields["say"]),
                                       ("--audio", fields["audio"])) if given is not None]
    if len(movers) > 1:
        raise click.UsageError(f"give {movers[0]} or {movers[1]}, not both")
    if fields["say"] is None and (fields["voice"] or language):
        raise click.UsageError("--voice and --language are for --say")
    if no_audio and fields["driver"] is None:
        raise click.UsageError("--no-audio is for --driver (a driving video's sound)")
    style = provenance.DisclosureStyle(label, corner=provenance.Corner(label_corner))
    request = _pipeline().RenderRequest(**fields, motion=motion or "talk", landmarks=landmarks or None,
                                        disclosure=None if no_visible_label else style, language=language or "en",
                                        driver_sound=not no_audio)
    with settings.open_runner() as runner, _progress_bar("rendering") as progress:
        output = runner.submit(request).wait(progress)
    _print_output(output, as_json)


@cli.command("demo")
@click.option("--seconds", type=float, default=6.0, show_default=True)
@operator_option
@json_option
@click.pass_obj
def demo_command(settings: Settings, seconds: float, operator: str, as_json: bool) -> None:
    """Make a labeled, consented video of the sample portrait, verify it, and say where it is.

    Works offline on a fresh install: the sample ships with its landmarks, and its rights record is
    added to the ledger on first use.

    Example:

        sitter demo
    """
    with _progress_bar("rendering the demo") as progress:
        from studio.demo import run_demo  # renders: the engine and all

        result = run_demo(settings, operator, progress, seconds=seconds)
    if as_json:
        click.echo(json.dumps({"record_id": result.record_id, "output": _output_dict(result.output),
                               "report": result.report.to_dict()}, indent=2))
        return
    click.echo(f"consent record {result.record_id} (sample portrait, public domain, purpose exhibit)")
    _print_output(result.output, False)
    click.echo(_report_text(result.report))


@cli.command("studio")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True,
              help="The interface to listen on; 0.0.0.0 for every one (behind a reverse proxy).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path),
              help="The data directory (default: $SITTER_HOME, or ~/.sitter).")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST",
              help="Also answer requests addressed to HOST (the name browsers use, e.g. behind a proxy); repeatable, "
              "added to $SITTER_ALLOWED_HOSTS. A request to a name other than these, --address or localhost gets 403.")
@click.pass_context
def studio_command(ctx: click.Context, port: int, address: str, home: Path | None,
                   allow_hosts: tuple[str, ...]) -> None:
    """Start the web studio (Consent, Create, Verify, Audit) and serve it until stopped with Ctrl-C.

    Against DNS rebinding it answers only requests whose Host names --address, localhost, or an --allow-host.

    Example:

        sitter studio --port 8501 --home /srv/sitter

        sitter studio --address 0.0.0.0 --allow-host studio.example.org
    """
    from studio.app.hosts import EVERY_INTERFACE
    from studio.app.server import allowed_hosts, command  # imports Streamlit: only for this command

    env = dict(os.environ)
    if home is not None:
        env["SITTER_HOME"] = str(home.expanduser().resolve())
    if ctx.find_root().params.get("db_url"):
        env["SITTER_DB_URL"] = ctx.obj.database_url
    extra = (*ctx.obj.allowed_hosts, *allow_hosts)
    try:
        argv, hosts = command(port, address, extra), allowed_hosts(address, extra)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--allow-host or SITTER_ALLOWED_HOSTS") from None
    click.echo(f"Sitter studio on http://{address}:{port} (data in {env.get('SITTER_HOME', ctx.obj.home)}), "
               f"answering to {', '.join(hosts)}")
    if not extra and address.strip() in EVERY_INTERFACE:
        click.echo("Listening on every interface, but answering to localhost only: name the host browsers use with "
                   "--allow-host or SITTER_ALLOWED_HOSTS.", err=True)
    os.execve(argv[0], argv, env)


# training

@cli.command("train")
@click.option("--data", required=True, type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Data from sitter prepare-data, or a folder of talking-face videos, one person each, each "
              "with NAME.landmarks.json (without one, its faces are detected), prepared into --cache first.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), metavar="CKPT",
              help="The checkpoint to write (every --save-every steps and at the end).")
@click.option("--resume", is_flag=True, help="Continue the checkpoint at --out, same model and data, up to --steps.")
@click.option("--steps", type=click.IntRange(1), help="Total steps, resumed ones included  [default: 100000]")
@click.option("--k", type=click.IntRange(1), help="Frames embedded per episode  [default: 8]")
@click.option("--batch", type=click.IntRange(1), help="Episodes per step, per process  [default: 1]")
@click.option("--size", type=int, help="Model resolution, a power of two  [default: 256]")
@click.option("--base-channels", "base", type=click.IntRange(1), help="Channels of the first block  [default: 64]")
@click.option("--max-channels", type=click.IntRange(1), help="Widest block and embedding size  [default: 512]")
@click.option("--res-blocks", type=click.IntRange(0), help="The generator's constant blocks  [default: 5]")
@click.option("--g-downs", type=click.IntRange(1), help="Halvings before those blocks  [default: 4; 256 -> 16 px]")
@click.option("--lr-eg", type=click.FloatRange(0, min_open=True), help="Adam, E and G  [default: 5e-5]")
@click.option("--lr-d", type=click.FloatRange(0, min_open=True), help="Adam, D  [default: 2e-4]")
@click.option("--save-every", type=click.IntRange(1), help="Steps between checkpoints  [default: 1000]")
@click.option("--log-every", type=click.IntRange(1), help="Steps between loss lines  [default: 50]")
@click.option("--sample-every", type=click.IntRange(0),
              help="Steps between sample grids (CKPT.samples/) and identity-collapse checks; 0: none  [default: 1000]")
@click.option("--holdout", type=click.IntRange(0),
              help="Identities kept out of training for the samples, when 8 or more videos remain  [default: 2]")
@click.option("--seed", type=click.IntRange(0), help="Initial weights and episodes  [default: 0]")
@click.option("--device", help="cuda, cuda:1, cpu  [default: CUDA when available; torchrun: each rank's GPU]")
@click.option("--tensorboard", type=click.Path(file_okay=False), metavar="DIR",
              help="Also log the losses for TensorBoard here (needs the tensorboard package).")
@click.option("--cache", type=click.Path(file_okay=False), metavar="DIR",
              help="Where a folder of videos is prepared  [default: DATA/.sitter-cache]")
@click.option("--loader-workers", type=click.IntRange(0),
              help="DataLoader processes decoding episodes; 0: the training process  [default: 2]")
@click.pass_obj
def train_command(settings: Settings, data: Path, out: Path, resume: bool, **options: object) -> None:
    """Meta-learn the neural engine (Zakharov et al. 2019) on talking-face videos; resumable; DDP under torchrun.

    The content loss uses the VGG19 / VGGFace weight files set in $SITTER_VGG19_WEIGHTS and
    $SITTER_VGGFACE_WEIGHTS; without them, a pixel-space loss (L1 + multi-scale SSIM). The checkpoint
    records which.

    Example:

        sitter train --data talking/ --out heads.pt --steps 20000
        torchrun --standalone --nproc_per_node=8 -m studio.cli train --data talking/ --out heads.pt
    """
    from engine.neural import ModelConfig, TrainConfig, meta_learn  # imports torch: only for this command

    given = {name: value for name, value in options.items() if value is not None}
    model_options = {name: given.pop(name) for name in ("size", "base", "max_channels", "res_blocks", "g_downs")
                     if name in given}
    if resume and model_options:
        raise click.UsageError("a resumed run keeps its checkpoint's model: drop --size, --g-downs and the "
                               "channel and block options")
    try:
        model = None if resume else ModelConfig(**model_options)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    weights = {"vgg19_weights": settings.vgg19_weights, "vggface_weights": settings.vggface_weights}
    config = TrainConfig(**given, **{name: str(path) for name, path in weights.items() if path})
    _log_info("engine.neural")
    with _progress_bar("training") as progress:
        history = meta_learn(data, out, config, model, resume=resume,
                             on_step=lambda done, total, _: progress(done, total))
    if history and os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks and writes
        last = history[-1]
        click.echo(f"wrote {out}: step {config.steps}, G loss {last['g']:.4g}, D loss {last['d']:.4g}")


@cli.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path, dir_okay=False), metavar="CKPT")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), metavar="MODEL",
              help="The safetensors file to write.")
@click.option("--dtype", type=click.Choice(["float16", "bfloat16"]), default="float16", show_default=True,
              help="The precision the weights are stored in; rendering widens them to float32.")
@click.option("--overwrite", is_flag=True, help="Replace a file already at --out (otherwise that is refused).")
def export_command(checkpoint: Path, out: Path, dtype: str, overwrite: bool) -> None:
    """Write a checkpoint's E and G alone, in half precision, as a lean model that renders (feed-forward only).

    No discriminator, no per-video vectors, no optimizer state: about 105 MB at the paper's widths. Fine-tuning
    (--finetune-steps) still needs the checkpoint.

    Example:

        sitter export heads.pt --out heads.safetensors
        sitter render --engine neural --checkpoint heads.safetensors --source ada.jpg --purpose marketing \\
            --out ada-neural.mp4
    """
    from engine.neural import export_model  # imports torch: only for this command

    size = export_model(checkpoint, out, dtype, overwrite=overwrite)
    click.echo(f"wrote {out}: E and G in {dtype}, {size / 1e6:.1f} MB")


@cli.command("prepare-data")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Where the shards and their index go; a folder an earlier run left is resumed.")
@click.option("--frames", type=click.IntRange(2), default=32, show_default=True, help="Frames kept per clip.")
@click.option("--size", type=click.IntRange(16), default=256, show_default=True,
              help="px of the square face crops: the largest model size the data can train.")
@click.option("--shard-mb", type=click.FloatRange(0, min_open=True), default=1024, show_default=True,
              help="A shard is closed and committed once it passes this size.")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True, help="Processes.")
@click.option("--quality", type=click.IntRange(1, 100), default=95, show_default=True, help="JPEG quality.")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable videos (and count them) instead of stopping.")
def prepare_data_command(src: Path, out: Path, **options: object) -> None:
    """Prepare talking-face videos for `sitter train`: N frames per clip, JPEG, with landmarks, in tar shards.

    SRC is a flat folder of videos, or a tree like VoxCeleb2's ID/VIDEO/CLIP.mp4 (the clips of a folder are
    one video). Landmarks come from NAME.landmarks.json beside a clip, else from face-alignment (on the GPU
    when there is one). Killed, it resumes where it stopped, with no video stored twice.

    Example:

    \b
        sitter prepare-data vox2/dev/mp4 --out vox2-256 --workers 8
        sitter train --data vox2-256 --out heads.pt
    """
    from engine.neural import PrepareConfig, prepare_data  # imports torch: only for this command

    with _progress_bar("preparing") as progress:
        summary = prepare_data(src, out, PrepareConfig(**options), on_progress=progress)
    click.echo(f"wrote {out}: {summary.line()}")


# verify and keys

@cli.command("verify")
@click.argument("clip", type=click.Path(path_type=Path))
@click.option("--trust-anchor", "anchors", multiple=True, type=click.Path(path_type=Path), metavar="PEM",
              help="A root certificate to trust (repeatable); the studio's own CA is trusted when present.")
@json_option
@click.pass_obj
def verify_command(settings: Settings, clip: Path, anchors: tuple[Path, ...], as_json: bool) -> None:
    """Say whether a clip is a labeled Sitter video: its manifest, its watermark, its consent.

    Reads any video FFmpeg decodes (MP4, MOV, WebM, MKV, AVI, GIF): the watermark in every one, the manifest
    where the format can carry one. Works with no studio database (consent then reads "unknown"). Exit 0 when
    the clip could be examined, whatever the verdict; 2 when it cannot be read.

    Example:

        sitter verify downloaded.mp4 --trust-anchor studio-ca.pem --json
    """
    trust = [*anchors, *settings.known_trust_anchors()]
    if settings.has_database():
        with settings.open_registry() as registry, settings.open_ledger() as ledger:
            report = provenance.verify(clip, trust_anchors=trust, registry=registry, ledger=ledger)
    else:
        report = provenance.verify(clip, trust_anchors=trust)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else _report_text(report))


@cli.group(cls=SitterGroup)
def keys() -> None:
    """The studio's signing keys: what signs the C2PA manifests and how verifiers trust it."""


@keys.command("show")
@json_option
@click.pass_obj
def keys_show(settings: Settings, as_json: bool) -> None:
    """Show the C2PA signer (creating the development CA on first use) and the ledger key.

    Example:

        sitter keys show --json
    """
    info = {**provenance.describe(settings.signer()), "ledger_public_key": settings.ledger_key().public_pem(),
            "ledger_key_path": str(settings.ledger_key_path)}
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for name, value in info.items():
        text = str(value).strip().replace("\n", "\n" + " " * 22)
        click.echo(f"{name.replace('_', ' '):<20}  {text}")


# the database

@cli.group(cls=SitterGroup)
def db() -> None:
    """The studio's database: its schema revision, and migrating it (SQLite or PostgreSQL)."""


@db.command("upgrade")
@json_option
@click.pass_obj
def db_upgrade(settings: Settings, as_json: bool) -> None:
    """Migrate the database to this version's schema (the studio also does it by itself on first use).

    Safe to run while the studio runs, and from several machines at once.

    Example:

        SITTER_DB_URL=postgresql://sitter@db.internal/sitter sitter db upgrade
    """
    from studio import store  # Alembic: only for these commands

    before = store.revision(settings.database_url)
    after = store.upgrade(settings.database_url)
    _print_revision({"database": _safe_url(settings.database_url), "before": before, "revision": after,
                     "head": store.head()}, as_json)


@db.command("status")
@json_option
@click.pass_obj
def db_status(settings: Settings, as_json: bool) -> None:
    """Show the database's schema revision and the newest one this version of Sitter knows.

    Example:

        sitter db status --json
    """
    from studio import store

    _print_revision({"database": _safe_url(settings.database_url), "revision": store.revision(settings.database_url),
                     "head": store.head()}, as_json)


# helpers

class _progress_bar:
    """A terminal progress bar fed by the pipeline's on_progress(done, total) callback."""

    def __init__(self, label: str) -> None:
        self.label, self.bar, self.shown = label, None, 0

    def __enter__(self) -> Callable[[int, int], None]:
        return self.update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.render_finish()

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
        self.bar.update(done - self.shown)
        self.shown = done


def _log_info(name: str) -> None:
    """Show a library logger's INFO lines (parameter counts, losses) on stderr, as they are."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]  # one, however often a command runs in this process
    logger.propagate = False


def _output_dict(output: Output) -> dict:
    return {"path": str(output.path), "output_id": output.output_id, "watermark_id": output.watermark_id,
            "sha256": output.sha256, "frames": output.frames, "manifest_bytes": output.manifest_bytes}


def _print_output(output: Output, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(_output_dict(output), indent=2))
    else:
        click.echo(f"wrote {output.path}: {output.frames} frames, watermark {output.watermark_id}, "
                   f"C2PA manifest {output.manifest_bytes} bytes, output id {output.output_id}")


def _report_text(report: VerifyReport) -> str:
    c2pa, mark, consent, video = report.manifest, report.watermark, report.consent, report.file.video
    lines = [
        f"verdict     {report.verdict.value}",
        f"            {report.summary}",
        f"file        {video.container} ({video.codec}), {video.width}x{video.height}, {video.fps:g} fps",
        f"c2pa        {'present' if c2pa.present else report.manifest_note}"
        + (f", {c2pa.validation_state}, signer {c2pa.signer}" if c2pa.present else ""),
    ]
    if c2pa.failures:
        lines.append(f"            failures: {', '.join(c2pa.failures)}")
    if c2pa.present:
        lines.append(f"            made by {c2pa.engine} ({c2pa.digital_source_type}), "
                     f"{len(c2pa.ingredients)} source image(s)")
    lines += [
        f"watermark   {'found ' + report.binding.watermark_id if mark.found else 'not found'}, "
        f"confidence {mark.confidence:.2f}, {mark.frames_decoded}/{mark.frames_examined} frames decode alone",
        f"binding     manifest says {report.binding.manifest_watermark_id or '-'}, "
        f"{'match' if report.binding.match else 'no match'}",
        f"registry    {_registry_text(report.registry)}",
        f"consent     record {consent.record_id or '-'}: {consent.status}",
        f"sound       {_sound_text(report.sound)}",
    ]
    return "\n".join(lines)


def _sound_text(sound: SoundReport) -> str:
    declared = sound.declared
    if declared is None:
        return "a sound track the manifest does not describe" if sound.present else "none"
    source_type = declared.digital_source_type
    made = source_type.rsplit("/", 1)[-1] if source_type else "source type not declared"
    by = f", by {declared.software_agent}" if declared.software_agent else ""
    return f"{declared.kind} ({made}{by}), from sha256:{declared.sha256}"


def _registry_text(registry: RegistryLookup) -> str:
    if not registry.available:
        return "no studio database here"
    if not registry.found:
        return "no registered output has this watermark"
    recovered = registry.manifest
    state = f", recovered manifest {recovered.validation_state}" if recovered else ""
    return f"output {registry.entry.output_id} made {registry.entry.created_at.isoformat()[:19]}{state}"


def _print_revision(info: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    state = "up to date" if info["revision"] == info["head"] else f"behind: newest is {info['head']}"
    click.echo(f"{info['database']}: schema {info['revision'] or 'none (empty)'}, {state}")


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url

    from sitter.database import normalize

    return make_url(normalize(url)).render_as_string(hide_password=True)


def _pipeline() -> ModuleType:
    """The render pipeline (studio/pipeline.py), imported when a command renders: it loads the engine, C2PA and
    FFmpeg."""
    from studio import pipeline

    return pipeline


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(record: Record, now: datetime) -> str:
    lines = [
        *(f"{label:<12}{value}" for label, value in record.facts(now).items()),
        *(f"  - sha256:{s.sha256} ({s.width}x{s.height})" for s in record.sources),
        f"{'uses':<12}{record.uses}",
        "history",
        *(f"  #{e.seq:<5} {e.at[:19]}  {e.kind:<6}  by {e.body.get('operator', '-')}" for e in record.events),
    ]
    return "\n".join(map(shown, lines))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
