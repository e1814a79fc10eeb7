"""Recipe files in general: YAML with `extends:`, `--set key.path=value`
overrides, pydantic models that forbid unknown keys, errors that name the key path.

Shared by the data recipe (datagen.config) and the trainer's config
(datagen.train.common.config), so the trainer does not reach into the
pipeline's schema for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class RecipeError(ValueError):
    """A recipe that cannot be used; the message names the key path."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def format_errors(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else err["msg"])
    return "; ".join(parts)


# Mappings a child recipe replaces whole: a task mix is a set of shares, and
# inheriting the parent's other tasks would silently change what a set is.
ATOMIC_KEYS = frozenset({"mix"})


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Merge `over` into `base`. A block that switches `backend` does not
    inherit the old backend's `options` (they would be unknown keys)."""
    out = dict(base)
    for k, v in over.items():
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict) and k not in ATOMIC_KEYS:
            if "backend" in v and v["backend"] != old.get("backend"):
                old = {kk: vv for kk, vv in old.items() if kk != "options"}
            out[k] = deep_merge(old, v)
        else:
            out[k] = v
    return out


def read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise RecipeError(f"recipe extends itself in a loop: {' -> '.join(map(str, seen + (path,)))}")
    if not path.is_file():
        raise RecipeError(f"recipe not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe must be a mapping at the top level")
    parent = data.pop("extends", None)
    if parent:
        data = deep_merge(read_yaml(path.parent / parent, seen + (path,)), data)
    return data


def apply_override(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one `a.b.c=value` override; the value is parsed as YAML."""
    if "=" not in assignment:
        raise RecipeError(f"--set expects key.path=value, got {assignment!r}")
    key, raw = assignment.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise RecipeError(f"--set has an empty key: {assignment!r}")
    value = yaml.safe_load(raw) if raw.strip() else ""
    out = deep_merge(data, {})
    node = out
    for p in parts[:-1]:
        child = node.get(p)
        node[p] = dict(child) if isinstance(child, dict) else {}
        node = node[p]
    node[parts[-1]] = value
    return out
