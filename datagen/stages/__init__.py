"""Stage families, one per file. `build_stages` gives a recipe's pipeline."""

from __future__ import annotations

from datagen.config import Recipe
from datagen.stages.base import Stage


def build_stages(recipe: Recipe) -> list[Stage]:
    from datagen.stages.compose import ComposeStage
    from datagen.stages.qc import QCStage
    from datagen.stages.speech import SpeechStage
    from datagen.stages.text import TextStage

    stages: list[Stage] = [TextStage(recipe), SpeechStage(recipe)]
    if recipe.qc.enabled:
        stages.append(QCStage(recipe))
    stages.append(ComposeStage(recipe))
    return stages
