"""Renders on a Ray cluster: one RenderWorker actor per GPU (per CPU on a cluster without GPUs) keeps its studio and
engine loaded and runs the one pipeline, `studio.pipeline.render`, so the consent gate, the re-check before publishing,
the watermark and the signed manifest all happen on the worker. `Settings.open_runner` picks this runner when
SITTER_RAY_ADDRESS is set; this module (and Ray) is imported only then.

- A worker opens its Studio on its first job from its own node's environment (`Settings.from_env`): every node runs
  with the studio's SITTER_DB_URL, the same SITTER_HOME on a shared volume, the same signing key.
- The workers are named, detached actors in the "sitter" namespace: every client of the cluster (the web studio, each
  `sitter render`) finds the same warm ones. A submission goes to the worker with the fewest jobs; one worker renders
  one job at a time (the "render" concurrency group) and answers progress and cancel calls meanwhile ("control").
- Domain errors (sitter.errors.SitterError) come back as the same class with the same message and attributes: they
  pickle as themselves, and travel as a value (_Failure) rather than wrapped in Ray's RayTaskError.
- A worker that dies mid-job publishes nothing (the pipeline's output appears by one atomic rename; its work folder is
  swept by a later render) and the job fails with WorkerFailed. The job is not retried: a job that killed one worker
  (out of memory on a long driving video) would kill the next one too, and submitting it again is safe, since nothing
  was published and no use was logged. The worker itself restarts, so the pool keeps its size.
- A caller that stops waiting (Ctrl-C, the page rerun, a timeout) cancels its job: the worker stops at the next frame
  and publishes nothing, as an interrupted in-process render would.
- The paths in a request must name the same files on the workers: they are made absolute here (a worker's working
  folder is not the caller's), and sources and outputs must lie on a volume every node mounts at the same path.
"""

import logging
import secrets
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, fields, replace
from pathlib import Path

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from provenance import Output
from sitter.errors import SitterError
from studio.pipeline import Progress, RenderRequest, Studio, render
from studio.settings import Settings
from studio.workers import WorkerFailed

NAMESPACE = "sitter"
POLL_SECONDS = 0.2  # how often a waiting caller asks for progress
ANSWER_SECONDS = 60.0  # how long the first worker may take to answer a submission (placed on a node, restarting)
LATE_SECONDS = 1.0  # how much longer the others get: a worker that is still restarting is passed over
LOST = ("the render worker stopped before finishing (killed, out of memory, or its node left the cluster); nothing "
        "was published: render again")
_CONNECTING = threading.Lock()  # ray.init is once per process; studio sessions may submit from several threads


class RenderCancelled(WorkerFailed):
    """The caller stopped waiting for the render (Ctrl-C, the page left), so it was stopped; nothing was published."""


@dataclass(frozen=True)
class _Failure:
    """A domain error on its way back from a worker, as itself (SitterError pickles)."""

    error: SitterError


@ray.remote(concurrency_groups={"render": 1, "control": 1}, max_restarts=-1, max_task_retries=0)
class RenderWorker:
    """One GPU's (or CPU's) renderer: its Studio stays open, with the engine's detector loaded and each neural model
    loaded once (Studio.models: one per model file and device, loaded again when the file is replaced).

    A render is never retried (see the module docstring); the quick control calls are, so that they wait out a
    restart instead of failing."""

    def __init__(self) -> None:
        self.studio: Studio | None = None
        self.jobs: dict[str, tuple[int, int]] = {}  # accepted jobs, queued or running -> (frames done, in all)
        self.cancelled: set[str] = set()

    @ray.method(concurrency_group="control", max_task_retries=-1)
    def load(self) -> int:
        return len(self.jobs)

    @ray.method(concurrency_group="control", max_task_retries=-1)
    def accept(self, job_id: str) -> None:
        """Count a job in before it queues, so that the next submission already sees this worker busier."""
        self.jobs[job_id] = (0, 0)

    @ray.method(concurrency_group="control", max_task_retries=-1)
    def progress(self, job_id: str) -> tuple[int, int]:
        return self.jobs.get(job_id, (0, 0))

    @ray.method(concurrency_group="control", max_task_retries=-1)
    def cancel(self, job_id: str) -> None:
        if job_id in self.jobs:  # not yet done: it stops at its next frame
            self.cancelled.add(job_id)

    @ray.method(concurrency_group="render")
    def render(self, job_id: str, request: RenderRequest) -> Output | _Failure:
        def progressed(done: int, total: int) -> None:
            if job_id in self.cancelled:
                raise RenderCancelled("the render was cancelled; nothing was published")
            self.jobs[job_id] = (done, total)

        try:
            if self.studio is None:
                self.studio = Settings.from_env().open_studio()
            return render(request, self.studio, progressed)
        except SitterError as err:
            return _Failure(err)
        finally:
            self.jobs.pop(job_id, None)
            self.cancelled.discard(job_id)


class RayJob:
    """A render submitted to one worker; `worker` is its actor."""

    def __init__(self, worker: ray.actor.ActorHandle, job_id: str, result: ray.ObjectRef) -> None:
        self.worker, self.job_id, self.result = worker, job_id, result
        self.last = (0, 0)

    def progress(self) -> tuple[int, int]:
        with suppress(GetTimeoutError, RayActorError):  # a worker restarting or gone: the last count stands, and
            self.last = ray.get(self.worker.progress.remote(self.job_id), timeout=POLL_SECONDS)  # the result says why
        return self.last

    def wait(self, on_progress: Progress | None = None, timeout: float | None = None) -> Output:
        """The published Output, or the render's own error, or WorkerFailed. A `timeout` (seconds) that runs out
        raises TimeoutError; like any interruption of the wait, it cancels the job."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not ray.wait([self.result], timeout=POLL_SECONDS)[0]:
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"the render was not done within {timeout:g} s; it was cancelled")
                if on_progress is not None and (done_total := self.progress())[1]:
                    on_progress(*done_total)
        except BaseException:
            self.worker.cancel.remote(self.job_id)
            raise
        output = self._outcome()
        if on_progress is not None:
            on_progress(output.frames, output.frames)
        return output

    def _outcome(self) -> Output:
        try:
            value = ray.get(self.result)
        except RayActorError:
            raise WorkerFailed(LOST) from None
        if isinstance(value, _Failure):
            raise value.error
        return value


class RayRunner:
    """Submits renders to the cluster's RenderWorkers, creating them on first use (one per GPU, else per CPU)."""

    def __init__(self, address: str) -> None:
        _connect(address)
        self.workers = _pool()

    def submit(self, request: RenderRequest) -> RayJob:
        job_id = secrets.token_hex(8)
        worker = _least_busy(self.workers)
        _answer(worker.accept.remote(job_id))
        return RayJob(worker, job_id, worker.render.remote(job_id, _absolute(request)))

    def __enter__(self) -> "RayRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        """Stays connected: the connection is the process's, and other sessions of a studio server may be using it."""


# helpers


def _connect(address: str) -> None:
    """Join the cluster at `address`, once per process (a process already connected, as tests are, stays so)."""
    with _CONNECTING:
        if not ray.is_initialized():
            ray.init(address=address, logging_level=logging.WARNING)


def _pool() -> list[ray.actor.ActorHandle]:
    """The cluster's render workers, by name, created where missing: on GPUs when the cluster has any."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    kind, slots, per_worker = ("gpu", gpus, {"num_gpus": 1}) if gpus else ("cpu", cpus, {})
    if not slots:
        raise WorkerFailed("the Ray cluster has no CPU or GPU to render on: start a worker node "
                           "(ray start --address=HEAD:6379)")
    return [RenderWorker.options(name=f"render-{kind}-{i}", namespace=NAMESPACE, get_if_exists=True,
                                 lifetime="detached", num_cpus=1, **per_worker).remote() for i in range(slots)]


def _least_busy(workers: list[ray.actor.ActorHandle]) -> ray.actor.ActorHandle:
    """The worker with the fewest jobs among those that answer at once (or, when none does, the first to answer)."""
    asked = {worker.load.remote(): worker for worker in workers}
    first, _ = ray.wait(list(asked), timeout=ANSWER_SECONDS)
    answered, _ = ray.wait(list(asked), num_returns=len(asked), timeout=LATE_SECONDS if first else 0)
    loads = {}
    for ref in answered:
        with suppress(RayActorError):  # gone since: passed over
            loads[asked[ref]] = ray.get(ref)
    if not loads:
        raise WorkerFailed(f"no render worker answered within {ANSWER_SECONDS:.0f} s: is a worker node with a free "
                           "CPU or GPU connected to the cluster?")
    return min(loads, key=loads.__getitem__)


def _answer(call: ray.ObjectRef) -> object:
    """A worker's answer to a quick call, or WorkerFailed when it is gone."""
    try:
        return ray.get(call, timeout=ANSWER_SECONDS)
    except (GetTimeoutError, RayActorError):
        raise WorkerFailed(LOST) from None


def _absolute(request: RenderRequest) -> RenderRequest:
    """The request with every path made absolute: a worker's working folder is not the caller's."""

    def absolute(value: object) -> object:
        if isinstance(value, tuple):
            return tuple(absolute(item) for item in value)
        return value.absolute() if isinstance(value, Path) else value

    return replace(request, **{f.name: absolute(getattr(request, f.name)) for f in fields(request)})
