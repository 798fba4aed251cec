"""Presets: declarative analysis configurations (YAML) validated against a packaged schema
and built once into a typed :class:`~t2khnl.preset.Preset`."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .preset import Preset, _schema, check_schema, from_mapping  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

PRESETS = ("corrected", "published")
DETECTORS = ("nd280", "upgrade")
BEAMS = ("fhc", "rhc")


def validate(spec: Any) -> Preset:
    """Check a parsed preset against ``schemas/preset.json`` and build its :class:`Preset`.

    Args:
        spec: the parsed preset (a mapping).

    Returns:
        The typed, frozen preset.

    Raises:
        InputError: the preset does not follow the schema (the failing path is named).
    """
    return from_mapping(spec)


def resolve(preset: str | os.PathLike[str] | Preset) -> Preset:
    """``preset`` itself when it is a :class:`Preset`, else :func:`load` of it (a name or
    a file): entry points take either, the steps below them a :class:`Preset`."""
    return preset if isinstance(preset, Preset) else load(preset)


def load(name: str | os.PathLike[str]) -> Preset:
    """Load a packaged preset by name, or a preset file.

    Args:
        name: ``corrected`` (default analysis), ``published`` (the paper's configuration), or
            the path of a YAML file following ``schemas/preset.json`` (e.g. a step of the
            published -> corrected walk, :mod:`t2khnl.compare`).

    Returns:
        The validated, typed preset.

    Raises:
        InputError: unknown preset name, unreadable file, or a file that breaks the schema.
    """
    if is_preset_file(name):
        path = Path(name)
        try:
            spec = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            msg = f"cannot read preset file {path}: {err}"
            raise InputError(msg) from err
        if not isinstance(spec, dict):
            msg = f"invalid preset file {path}: not a mapping"
            raise InputError(msg)
        return validate(spec)
    if name not in PRESETS:
        msg = (f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} or give a "
               "preset file (.yaml)")
        raise InputError(msg)
    text = resources.files(__package__).joinpath(f"presets/{name}.yaml").read_text()
    return validate(yaml.safe_load(text))


def is_preset_file(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` designates a preset file (a path ending in .yaml / .yml)."""
    return Path(name).suffix in (".yaml", ".yml")


def check_choice(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise an InputError naming them."""
    if value not in allowed:
        msg = f"unknown {kind} {value!r}; choose one of {', '.join(allowed)}"
        raise InputError(msg)
    return value
