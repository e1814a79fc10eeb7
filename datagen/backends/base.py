"""What every backend shares: a name, its optional extra, its recipe options
and the resources one worker holding it needs."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class BackendOptions(BaseModel):
    """Base for a backend's recipe options: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Backend:
    """Heavy models load lazily on first use, so a backend is cheap to build
    and to pickle into a worker."""

    name: ClassVar[str]
    extra: ClassVar[str] = ""  # the pyproject optional extra it needs, if any
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    num_gpus: ClassVar[float] = 0.0

    def __init__(self, options: BackendOptions | None = None):
        self.options = options if options is not None else self.Options()

    @property
    def resources_gpus(self) -> float:
        """GPUs one worker holding this backend needs (options may change it)."""
        return self.num_gpus

    def preflight(self) -> None:
        """Raise a clear error now if this backend cannot run here (a missing
        binary, model or package): a setup problem must stop the run before
        any work, not turn every dialogue into a reject."""
