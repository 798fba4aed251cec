"""Geometry model specifications: the YAML files of this folder, read without SIREN.

Each ``<name>.yaml`` names a base SIREN model, the variants' corrections, the fiducial
boxes [m] and the regions SIREN sectors map to (see README.md). :func:`fiducial_boxes` and
:func:`fiducial_volume_m3` give the analysis volumes without loading SIREN.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from t2khnl.errors import DataFileError, InputError

#: Variant used when none is given.
DEFAULT_VARIANT = "corrected"
#: Region names every model maps its sectors to (the last one is the fallback).
REGIONS: tuple[str, ...] = (
    "rock",
    "magnet",
    "p0d",
    "fgd",
    "superfgd",
    "tpc_gas",
    "tpc_wall",
    "ecal",
    "other",
)
FALLBACK_REGION = "other"
_GEOMETRY_DIR = Path(__file__).resolve().parent
PDG_RE = re.compile(r"^\d{9,10}$")


@dataclass(frozen=True)
class FiducialBox:
    """An axis-aligned fiducial box.

    Attributes:
        name: label of the box (e.g. ``"TPC1"``, ``"HATPC_top"``).
        centre: centre [m], shape (3,), SIREN detector coordinates.
        widths: full widths along x, y, z [m], shape (3,).
    """

    name: str
    centre: npt.NDArray[np.float64]
    widths: npt.NDArray[np.float64]

    def contains(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Tell which points lie inside the box (boundary included).

        Args:
            points: positions [m], shape (n, 3) or (3,).

        Returns:
            Boolean array of shape (n,).
        """
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        return np.all(np.abs(pts - self.centre) <= 0.5 * self.widths, axis=1)


def available_models() -> dict[str, tuple[str, ...]]:
    """List the geometry models and their variants.

    Returns:
        Mapping of model name to its variant names.
    """
    return {name: tuple(read_spec(name)["variants"]) for name in _model_files()}


def variants(name: str) -> tuple[str, ...]:
    """Variants of one model.

    Args:
        name: model name or alias.

    Returns:
        The variant names.
    """
    return tuple(read_spec(canonical_name(name))["variants"])


def _model_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(_GEOMETRY_DIR.glob("*.yaml"))}


def canonical_name(name: str) -> str:
    if not isinstance(name, str):
        msg = f"geometry model name must be a string, got {type(name).__name__}"
        raise InputError(msg)
    files = _model_files()
    key = name.strip().lower()
    for stem in files:
        spec = read_spec(stem)
        aliases = [stem, *spec.get("aliases", [])]
        if key in (a.lower() for a in aliases):
            return stem
    valid = []
    for stem in files:
        valid.append(stem)
        valid.extend(read_spec(stem).get("aliases", []))
    msg = f"unknown detector geometry {name!r}; valid names: {', '.join(valid)}"
    raise InputError(msg)


_SPEC_CACHE: dict[str, dict[str, Any]] = {}


def read_spec(stem: str) -> dict[str, Any]:
    if stem in _SPEC_CACHE:
        return _SPEC_CACHE[stem]
    path = _GEOMETRY_DIR / f"{stem}.yaml"
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read geometry file {path}: {exc}"
        raise DataFileError(msg) from exc
    for key in ("base", "fiducial", "regions", "gas_sectors", "variants"):
        if not isinstance(spec, dict) or key not in spec:
            msg = f"geometry file {path} lacks the key {key!r}"
            raise DataFileError(msg)
    for entry in spec["regions"]:
        if entry.get("region") not in REGIONS:
            msg = f"{path}: region {entry.get('region')!r} is not one of {REGIONS}"
            raise DataFileError(msg)
    _SPEC_CACHE[stem] = spec
    return spec


def resolve_variant(spec: Mapping[str, Any], name: str, variant: str) -> dict[str, Any]:
    all_variants = spec["variants"]
    if variant not in all_variants:
        msg = (
            f"unknown variant {variant!r} of geometry {name!r}; "
            f"valid variants: {', '.join(all_variants)}"
        )
        raise InputError(msg)
    resolved = copy.deepcopy(all_variants[variant])
    parent = resolved.pop("extends", None)
    if parent is not None:
        base = resolve_variant(spec, name, parent)
        for key in ("sectors", "remove_sectors", "add_sectors", "provenance"):
            resolved[key] = [*base.get(key, []), *resolved.get(key, [])]
        resolved["materials"] = {**base.get("materials", {}), **resolved.get("materials", {})}
        for key in ("fiducial", "description"):
            resolved.setdefault(key, base.get(key))
    return resolved


def parse_fiducial_boxes(
    entries: Sequence[Mapping[str, Any]], where: str
) -> tuple[FiducialBox, ...]:
    """The fiducial boxes of a YAML ``fiducial`` list (where: the file, for messages)."""
    boxes = []
    for e in entries:
        centre = np.asarray(e["centre"], dtype=float)
        widths = np.asarray(e["widths"], dtype=float)
        if centre.shape != (3,) or widths.shape != (3,) or np.any(widths <= 0):
            msg = f"{where}: fiducial box {e.get('name')!r} needs 3 centres and 3 positive widths"
            raise DataFileError(msg)
        boxes.append(FiducialBox(str(e["name"]), centre, widths))
    return tuple(boxes)



def parse_decay_regions(spec: Any, fiducial: Sequence[Mapping[str, Any]],
                        where: str) -> dict[str, tuple[FiducialBox, ...]]:
    """The ``decay_regions`` of a geometry YAML: name -> boxes, one per fiducial box and
    named as it (the selections' fiducial-volume cuts name the boxes)."""
    if not isinstance(spec, Mapping):
        msg = f"{where}: decay_regions must map a region name to a list of boxes"
        raise DataFileError(msg)
    names = [str(e["name"]) for e in fiducial]
    regions = {}
    for region, entries in spec.items():
        if region == "fiducial" or not isinstance(entries, list):
            msg = f"{where}: decay region {region!r} must be a list of boxes, not 'fiducial'"
            raise DataFileError(msg)
        boxes = parse_fiducial_boxes(entries, where)
        if [b.name for b in boxes] != names:
            msg = (f"{where}: decay region {region!r} must name its boxes as the fiducial "
                   f"boxes, in order ({', '.join(names)})")
            raise DataFileError(msg)
        regions[str(region)] = boxes
    return regions

def fiducial_entries(name: str, variant: str = DEFAULT_VARIANT) -> list[dict[str, Any]]:
    """The fiducial entries of a model's variant as written in its YAML file."""
    stem = canonical_name(name)
    spec = read_spec(stem)
    var = resolve_variant(spec, stem, variant)
    return list(var.get("fiducial") or spec["fiducial"])


def fiducial_boxes(name: str, variant: str = DEFAULT_VARIANT) -> tuple[FiducialBox, ...]:
    """The fiducial boxes of a model's variant, read from its YAML file (no SIREN).

    Args:
        name: model name or alias (``"nd280"``, ``"nd280upgrade"``, ...).
        variant: variant name (default :data:`DEFAULT_VARIANT`).

    Raises:
        InputError: unknown model or variant.
        DataFileError: the YAML file is malformed.
    """
    stem = canonical_name(name)
    return parse_fiducial_boxes(fiducial_entries(stem, variant), f"{stem}.yaml")


def fiducial_volume_m3(name: str, variant: str = DEFAULT_VARIANT) -> float:
    """Summed volume of a model's fiducial boxes [m³] (they do not overlap).

    The same sum as :attr:`DetectorGeometry.fiducial_volume`, from the YAML file alone.

    Examples:
        >>> round(fiducial_volume_m3("nd280"), 6)  # three TPCs of 1.70 x 1.96 x 0.563 m
        5.627748
    """
    widths = np.array([box.widths for box in fiducial_boxes(name, variant)])
    return float(np.prod(widths, axis=1).sum())
