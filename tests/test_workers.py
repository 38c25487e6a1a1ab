
"""Render workers on a local Ray cluster (2 CPUs, so 2 RenderWorkers): renders submitted from here run the pipeline
in the workers and come out labeled; refusals come back as the same error; a killed worker publishes nothing."""

import pickle
import time
from pathlib import Path

import pytest
import ray
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from consent import Fault, LedgerTampered, PurposeNotAllowed
from engine.errors import WeightsMissing
from provenance import Verdict, verify
from studio.cli import cli
from studio.pipeline import RenderRequest, render
from studio.ray_workers import RayJob, RayRunner, RenderCancelled
from studio.settings import Settings
from studio.workers import WorkerFailed

DATA = Path(__file__).parent / "data"
PORTRAIT, LANDMARKS = DATA / "einstein_photo.jpg", DATA / "einstein_photo.landmarks.json"
MAIN = Path(__file__).parents[1] / "studio" / "app" / "main.py"
DEADLINE = 120.0  # seconds a job may take here before the test gives up on it (renders take ~1 s)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workers") / "home"


@pytest.fixture(scope="module")
def env(home: Path) -> dict[str, str]:
    """The studio's environment: the workers' (they open their studio from it) and this side's."""
    return {"SITTER_HOME": str(home), "SITTER_DB_URL": "", "SITTER_OPERATOR": "desk-1", "SITTER_RAY_ADDRESS": "local"}


@pytest.fixture(scope="module")
def settings(env: dict[str, str]) -> Settings:
    """A local Ray with 2 CPUs for this module (so 2 RenderWorkers), its workers started with `env`."""
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": env})
    yield Settings.from_env(env)
    ray.shutdown()


@pytest.fixture(scope="module")
def runner(settings: Settings) -> RayRunner:
    with settings.open_runner() as runner:
        return runner


@pytest.fixture(scope="module")
def record_id(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A marketing record for the portrait, on the ledger the workers share."""
    form = tmp_path_factory.mktemp("evidence") / "release.pdf"
    form.write_bytes(b"%PDF-1.4 signed release, stand-in")
    with settings.open_ledger() as ledger:
        return ledger.grant(kind="person", name="Ada Example", grantor="Ada Example", purposes=["marketing"],
                            expires="2099-01-01", evidence=form, images=[PORTRAIT], operator="tester").record_id


def request(out: Path, **fields: object) -> RenderRequest:
    return RenderRequest(**{"sources": (PORTRAIT,), "landmarks": (LANDMARKS,), "purpose": "marketing",
                            "operator": "desk-1", "out": out, "seconds": 1.0, "size": 256, **fields})


def first_frame(job: RayJob) -> None:
    """Wait until the worker has made a frame of `job`."""
    deadline = time.monotonic() + DEADLINE
    while job.progress()[0] == 0:
        assert time.monotonic() < deadline, "the worker made no frame"
        time.sleep(0.05)


def labeled(settings: Settings, path: Path) -> bool:
    with settings.open_registry() as registry, settings.open_ledger() as ledger:
        report = verify(path, trust_anchors=settings.known_trust_anchors(), registry=registry, ledger=ledger)
    return report.verdict is Verdict.LABELED


def test_four_concurrent_renders_all_come_out_labeled(runner: RayRunner, settings: Settings, record_id: str,
                                                      tmp_path: Path) -> None:
    jobs = [runner.submit(request(tmp_path / f"out-{i}.mp4", seed=i)) for i in range(4)]
    assert len({job.worker for job in jobs}) == 2  # spread over both workers
    seen: list[tuple[int, int]] = []
    outputs = [jobs[0].wait(lambda done, total: seen.append((done, total)), timeout=DEADLINE),
               *(job.wait(timeout=DEADLINE) for job in jobs[1:])]
    assert seen[-1] == (25, 25) and all(0 < done <= total == 25 for done, total in seen)
    assert [o.path for o in outputs] == [tmp_path / f"out-{i}.mp4" for i in range(4)]
    assert all(labeled(settings, o.path) for o in outputs)
    with settings.open_ledger() as ledger:
        assert ledger.get(record_id).uses >= 4


def test_a_render_without_consent_is_refused_in_the_worker_with_the_same_error(
        runner: RayRunner, settings: Settings, record_id: str, tmp_path: Path) -> None:
    refused = request(tmp_path / "refused.mp4", purpose="exhibit")  # the record allows marketing only
    with pytest.raises(PurposeNotAllowed) as remote:
        runner.submit(refused).wait(timeout=DEADLINE)
    with settings.open_studio() as studio, pytest.raises(PurposeNotAllowed) as here:
        render(refused, studio)
    assert type(remote.value) is PurposeNotAllowed and str(remote.value) == str(here.value)
    assert "\n" not in str(remote.value) and "Ada" not in str(remote.value)
    assert list(tmp_path.iterdir()) == []


def test_domain_errors_travel_with_their_class_message_and_attributes() -> None:
    missing = [Path("/hub/checkpoints/s3fd-619a316812.pth")]  # WeightsMissing's constructor differs from its args
    again = pickle.loads(pickle.dumps(WeightsMissing("face-alignment's weights are missing", missing)))
    assert type(again) is WeightsMissing and str(again) == "face-alignment's weights are missing"
    assert again.missing == missing and again.path == missing[0].parent
    fault = Fault(3, "missing")
    tampered = pickle.loads(pickle.dumps(LedgerTampered(fault, "the consent ledger does not verify")))
    assert tampered.fault == fault and str(tampered) == "the consent ledger does not verify"
    assert tampered.exit_code == 1


def test_a_killed_worker_leaves_nothing_and_the_job_fails(runner: RayRunner, settings: Settings, record_id: str,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "outputs" / "killed.mp4"
    job = runner.submit(request(out, seconds=30.0))
    first_frame(job)
    ray.kill(job.worker, no_restart=False)  # the actor's process dies mid-render; Ray starts a new one
    with pytest.raises(WorkerFailed, match="stopped before finishing") as failed:
        job.wait(timeout=DEADLINE)
    assert "\n" not in str(failed.value)
    assert not out.exists() and not list(out.parent.glob("*.mp4"))
    again = tmp_path / "outputs" / "again.mp4"
    assert runner.submit(request(again)).wait(timeout=DEADLINE).path == again  # the pool is whole again
    assert labeled(settings, again)


def test_a_caller_that_stops_waiting_cancels_the_render(runner: RayRunner, record_id: str, tmp_path: Path) -> None:
    out = tmp_path / "cancelled.mp4"
    job = runner.submit(request(out, seconds=30.0))

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the bar moves

    with pytest.raises(KeyboardInterrupt):
        job.wait(interrupt, timeout=DEADLINE)
    with pytest.raises(RenderCancelled):
        job.wait(timeout=DEADLINE)
    assert not out.exists()


def test_the_cli_renders_on_the_workers(env: dict[str, str], record_id: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative --out: the worker's working folder is elsewhere

    def sitter(*extra: str):
        args = ["render", "--source", PORTRAIT, "--landmarks", LANDMARKS, "--seconds", "1", "--size", "256", *extra]
        return CliRunner().invoke(cli, [str(a) for a in args], env=env)

    done = sitter("--purpose", "marketing", "--out", "talking.mp4")
    assert done.exit_code == 0, done.output
    assert "rendering" in done.stderr and (tmp_path / "talking.mp4").is_file()
    refused = sitter("--purpose", "exhibit", "--out", "refused.mp4")
    assert refused.exit_code == 3 and refused.output.startswith("Error: ") and len(refused.output.splitlines()) == 1
    assert not (tmp_path / "refused.mp4").exists()


def test_the_create_page_renders_on_the_workers(env: dict[str, str], settings: Settings, record_id: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(str(MAIN), default_timeout=DEADLINE).run()
    at.file_uploader(key="sources").set_value([("portrait.jpg", PORTRAIT.read_bytes(), "image/jpeg")]).run()
    at.file_uploader(key="landmarks_file").set_value(("p.json", LANDMARKS.read_bytes(), "application/json")).run()
    at.selectbox(key="size").set_value(256)
    at.slider(key="seconds").set_value(1)
    next(b for b in at.run().button if b.label == "Render").click()
    at.run()
    assert not at.exception and not at.error, at.error
    assert "Labeled and signed" in "\n".join(str(e.value) for e in at.success)
    [video] = settings.outputs_dir.glob("*.mp4")
    assert labeled(settings, video)
