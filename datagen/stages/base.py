"""What a stage is: a named, picklable transform over a batch of records.

A stage never knows where it runs (no Ray import here or in any stage).
It declares the resources it needs as data; executors read them to size
actor pools. Heavy models load lazily on first `process`, so building a
stage is cheap and it pickles into a worker before anything is loaded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from datagen.config import Recipe
from datagen.records import Reject


@dataclass
class StageOutput:
    """What a stage returns: the records that go on, the ones that stop
    (each with a reason), and counters summed into stats.json."""

    items: list[Any] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)

    def reject(self, id: str, stage: str, reason: str, detail: str = "", raw: str = "") -> None:
        self.rejects.append(Reject(id=id, stage=stage, reason=reason, detail=detail, raw=raw))
        self.counters[f"dropped_{reason}"] += 1


@dataclass(frozen=True)
class Resources:
    num_cpus: float = 1.0
    num_gpus: float = 0.0


class Stage(ABC):
    name: str = "stage"

    def __init__(self, recipe: Recipe):
        self.recipe = recipe

    @property
    def resources(self) -> Resources:
        return Resources()

    @abstractmethod
    def process(self, batch: list[Any]) -> StageOutput:
        """Map a batch of records to the next records; never raise for one bad record."""
