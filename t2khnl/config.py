"""Presets: declarative analysis configurations (YAML) validated against a packaged schema."""

from __future__ import annotations

import json
import logging
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import InputError

log = logging.getLogger(__name__)

PRESETS = ("corrected", "published")
DETECTORS = ("nd280", "upgrade")
BEAMS = ("fhc", "rhc")


def _schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas/preset.json").read_text()
    return json.loads(text)


def validate(preset: dict[str, Any]) -> dict[str, Any]:
    """Check a preset against ``schemas/preset.json``.

    Args:
        preset: the parsed preset.

    Returns:
        The same preset.

    Raises:
        InputError: the preset does not follow the schema (the failing path is named).
    """
    check_schema(preset, _schema(), "preset")
    return preset


def check_schema(instance: Any, schema: dict[str, Any], what: str) -> None:
    """Validate ``instance`` against a JSON schema, naming the failing path on error.

    Raises:
        InputError: ``"invalid <what> at <path>: <reason>"``.
    """
    # what jsonschema.validate does, less its check of the schema itself (~30 ms a call;
    # the packaged schemas are checked by the tests)
    validator = jsonschema.validators.validator_for(schema)(schema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "<top>"
        msg = f"invalid {what} at {where}: {err.message}"
        raise InputError(msg) from err


def load(name: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a packaged preset by name, or a preset file.

    Args:
        name: ``corrected`` (default analysis), ``published`` (the paper's configuration), or
            the path of a YAML file following ``schemas/preset.json`` (e.g. a step of the
            published -> corrected walk, :mod:`t2khnl.compare`).

    Returns:
        The validated preset.

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
