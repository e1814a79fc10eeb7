"""The trainer's rooms import one way (datagen/train/__init__.py): common <- training <-
judging <- streaming <- preference <- cli, no module circle, and never the pipeline.

Read from the source with `ast` (every import, also those inside functions), so a
lazy import that closes a circle fails here too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TRAIN = Path(__file__).resolve().parents[2] / "datagen" / "train"
ORDER = ("common", "training", "judging", "streaming", "preference")
TOP = ("__init__", "cli")  # datagen/train/cli.py: the commands, over every room
# datagen.config is the data recipe's schema; the trainer shares only datagen.recipe_files with it
PIPELINE = ("datagen.stages", "datagen.executors", "datagen.backends", "datagen.config")


def _module(path: Path) -> str:
    rel = path.relative_to(TRAIN.parent.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(TRAIN.rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> set[str]:
    """Every datagen module `path` imports, anywhere in it."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return {m for m in out if m.startswith("datagen")}


def _room(module: str) -> int:
    """Rank of a datagen.train module's room; the package and cli rank above every room."""
    parts = module.split(".")[2:]
    if not parts or parts[0] in TOP:
        return len(ORDER)
    if parts[0] not in ORDER:
        raise AssertionError(
            f"{module} is in no room of datagen/train: put it in one of {ORDER} (datagen/train/__init__.py)"
        )
    return ORDER.index(parts[0])


def test_every_module_is_in_a_room_with_a_docstring():
    mods = _modules()
    for m in mods:
        _room(m)
    for room in ORDER:
        init = TRAIN / room / "__init__.py"
        assert init.is_file(), f"datagen/train/{room} has no __init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"datagen/train/{room}: say its job"


def test_imports_point_one_way_and_never_at_the_pipeline():
    mods = _modules()
    known = set(mods)
    wrong = []
    for m, path in mods.items():
        for target in _imports(path, known):
            if target.startswith(PIPELINE):
                wrong.append(f"{m} imports the pipeline: {target}")
            elif target.startswith("datagen.train.") and target in known:
                if _room(target) > _room(m):
                    wrong.append(f"{m} imports {target}, a room above its own")
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    mods = _modules()
    known = set(mods)
    graph = {
        m: sorted(t for t in _imports(p, known) if t in known and t != m and t != "datagen.train")
        for m, p in mods.items()
    }
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(t) :] + [t]))
            if t not in state:
                visit(t, path + [t])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_the_checks_see_a_circle(tmp_path):
    """The reader finds lazy imports (inside a function), the kind that made the old circle."""
    f = tmp_path / "x.py"
    f.write_text("def g():\n    from datagen.train.preference.dpo import policy_model\n")
    assert _imports(f, set(_modules())) == {"datagen.train.preference.dpo"}
