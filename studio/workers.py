"""Where renders run: in this process (the default) or on Ray render workers (`studio/ray_workers.py`).

Both runners take a RenderRequest and hand back a Job; `job.wait(on_progress)` returns the published Output or
raises the render's own domain error (a ConsentRefused, an input error, ...), exactly as `pipeline.render` does,
because both end in that one function. The CLI and the studio get their runner from `Settings.open_runner`.
"""

from typing import Protocol

from provenance import Output
from sitter.errors import CheckFailed
from studio.pipeline import Progress, RenderRequest, Studio, render


class WorkerFailed(CheckFailed):
    """A render worker died mid-job (killed, out of memory, its node gone) or none answered; nothing was published."""


class Job(Protocol):
    """One submitted render."""

    def progress(self) -> tuple[int, int]:
        """(frames done, frames in all) so far; (0, 0) before the first frame."""
        ...

    def wait(self, on_progress: Progress | None = None) -> Output:
        """The published Output, calling `on_progress(done, total)` as frames are made; or the render's error."""
        ...


class Runner(Protocol):
    """Takes render requests; a context manager, so that a runner that opened what it renders with closes it."""

    def submit(self, request: RenderRequest) -> Job: ...

    def __enter__(self) -> "Runner": ...

    def __exit__(self, *exc: object) -> None: ...


class InProcessJob:
    """A render run in the caller's thread when it is waited on, as renders have always run without a cluster:
    Ctrl-C or a rerun of the page interrupts it the same way, and nothing is left behind."""

    def __init__(self, request: RenderRequest, studio: Studio) -> None:
        self.request, self.studio = request, studio
        self.done_total = (0, 0)

    def progress(self) -> tuple[int, int]:
        return self.done_total

    def wait(self, on_progress: Progress | None = None) -> Output:
        def progressed(done: int, total: int) -> None:
            self.done_total = (done, total)
            if on_progress is not None:
                on_progress(done, total)

        return render(self.request, self.studio, progressed)


class InProcessRunner:
    """Renders here, on `studio`; closes the studio on exit only when `owned` (it was opened for this runner)."""

    def __init__(self, studio: Studio, *, owned: bool = False) -> None:
        self.studio, self.owned = studio, owned

    def submit(self, request: RenderRequest) -> InProcessJob:
        return InProcessJob(request, self.studio)

    def __enter__(self) -> "InProcessRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            self.studio.__exit__(*exc)
