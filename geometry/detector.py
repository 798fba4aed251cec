"""Detector geometries: SIREN-format models built from a shipped base plus our corrections.

Each ``<name>.yaml`` beside this module names a base SIREN detector model (a folder of
``densities.dat`` and ``materials.dat`` shipped with the installed ``siren`` package), the
corrections of one *variant* (``corrected``, ``published``, ...), the fiducial volumes and
the mapping of SIREN sector names to the regions that upscattering vertices are split into.
:func:`load` applies a variant to the base files, writes the result into a cache folder
(``$T2KHNL_CACHE_DIR``, else ``$XDG_CACHE_HOME/t2khnl``, else ``~/.cache/t2khnl``, then
``geometry/<hash>/``) and loads it into a :class:`siren.detector.DetectorModel`.

Units: lengths in metres (SIREN's detector coordinates; beam along +z), mass densities in
g/cm³, masses in tonnes.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from t2khnl._siren import load as load_siren
from t2khnl.errors import DataFileError, InputError
from t2khnl.files import apply_folder_mode

__all__ = [
    "DEFAULT_VARIANT",
    "REGIONS",
    "DetectorGeometry",
    "FiducialBox",
    "available_models",
    "cache_root",
    "load",
    "variants",
]

logger = logging.getLogger(__name__)

#: Version of the materialisation format; part of the cache hash.
_FORMAT_VERSION = 1
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
_FALLBACK_REGION = "other"
_GEOMETRY_DIR = Path(__file__).resolve().parent
_PDG_RE = re.compile(r"^\d{9,10}$")


# ----------------------------------------------------------------------------------------
# Public data types
# ----------------------------------------------------------------------------------------
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


@dataclass(frozen=True)
class DetectorGeometry:
    """A loaded detector geometry (one model, one variant).

    Attributes:
        name: model name (``"nd280"`` or ``"nd280upgrade"``).
        variant: variant name (``"corrected"``, ``"published"``, ...).
        description: one-line description of the variant.
        detector_model: the ``siren.detector.DetectorModel`` loaded from the cache files.
        densities_path: materialised SIREN ``densities.dat``.
        materials_path: materialised SIREN ``materials.dat``.
        base: base model as named in the YAML (``"siren:ND280/ND280-v1"``).
        fiducial: the fiducial boxes.
        gas_sectors: names of the sectors that are TPC / HA-TPC drift gas.
        region_rules: ``(region, sector-name glob patterns)`` pairs; first match wins.
        provenance: free-text notes on where the variant's numbers come from.
    """

    name: str
    variant: str
    description: str
    detector_model: Any
    densities_path: Path
    materials_path: Path
    base: str
    fiducial: tuple[FiducialBox, ...]
    gas_sectors: tuple[str, ...]
    region_rules: tuple[tuple[str, tuple[str, ...]], ...]
    provenance: tuple[str, ...] = ()
    _region_cache: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    # -- fiducial volumes ---------------------------------------------------------------
    @property
    def fiducial_names(self) -> tuple[str, ...]:
        """Names of the fiducial boxes, in order."""
        return tuple(b.name for b in self.fiducial)

    @property
    def fiducial_centres(self) -> npt.NDArray[np.float64]:
        """Centres of the fiducial boxes [m], shape (n_boxes, 3)."""
        return np.array([b.centre for b in self.fiducial], dtype=float).reshape(-1, 3)

    @property
    def fiducial_widths(self) -> npt.NDArray[np.float64]:
        """Full widths of the fiducial boxes [m], shape (n_boxes, 3)."""
        return np.array([b.widths for b in self.fiducial], dtype=float).reshape(-1, 3)

    @property
    def fiducial_volume(self) -> float:
        """Summed volume of the fiducial boxes [m³] (they do not overlap)."""
        return float(np.prod(self.fiducial_widths, axis=1).sum())

    def fiducial_index(self, points: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Index of the fiducial box holding each point.

        Args:
            points: positions [m], shape (n, 3) or (3,).

        Returns:
            Integer array of shape (n,): the box index, or -1 outside every box.
        """
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        inside = np.abs(pts[:, None, :] - self.fiducial_centres[None]) <= (
            0.5 * self.fiducial_widths[None]
        )
        in_box = np.all(inside, axis=2)
        return np.where(in_box.any(axis=1), np.argmax(in_box, axis=1), -1).astype(np.int64)

    def fiducial_geometry(self, box: int | str) -> Any:
        """Build a SIREN geometry of one fiducial box (e.g. for a bounded decay vertex).

        Args:
            box: index or name of the box.

        Returns:
            A ``siren.geometry.Geometry`` (a box) in SIREN geometry coordinates.

        Raises:
            InputError: no such box.
        """
        siren_detector = load_siren().detector

        if isinstance(box, str):
            if box not in self.fiducial_names:
                msg = f"no fiducial box {box!r} in {self.name}; valid: {self.fiducial_names}"
                raise InputError(msg)
            box = self.fiducial_names.index(box)
        if not 0 <= box < len(self.fiducial):
            msg = f"fiducial box index {box} out of range 0..{len(self.fiducial) - 1}"
            raise InputError(msg)
        b = self.fiducial[box]
        c, w = b.centre, b.widths
        line = f"fiducial box {c[0]!r} {c[1]!r} {c[2]!r} 0 0 0 {w[0]!r} {w[1]!r} {w[2]!r}"
        origin = self.detector_model.GetDetectorOrigin().get()
        det_line = f"detector {origin.GetX()!r} {origin.GetY()!r} {origin.GetZ()!r}"
        return siren_detector.DetectorModel.ParseFiducialVolume(line, det_line)

    # -- sectors and regions -------------------------------------------------------------
    @property
    def sector_names(self) -> tuple[str, ...]:
        """Names of every sector of the SIREN model (``UNIVERSE`` first)."""
        return tuple(s.name for s in self.detector_model.Sectors)

    def region_of(self, sector_names: str | Iterable[str]) -> Any:
        """Map SIREN sector names to region names (see :data:`REGIONS`).

        Args:
            sector_names: one name or an iterable (e.g. a numpy array) of names.

        Returns:
            The region name for a single string, else a numpy array of region names.
        """
        if isinstance(sector_names, str):
            return self._region(sector_names)
        names = np.asarray(list(sector_names), dtype=object)
        if names.size == 0:
            return np.asarray([], dtype="<U8")
        uniq, inverse = np.unique(names.astype(str), return_inverse=True)
        regions = np.asarray([self._region(n) for n in uniq])
        return regions[inverse.reshape(names.shape)]

    def _region(self, name: str) -> str:
        cached = self._region_cache.get(name)
        if cached is not None:
            return cached
        region = _FALLBACK_REGION
        for reg, patterns in self.region_rules:
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                region = reg
                break
        self._region_cache[name] = region
        return region

    def sector_at(self, points: npt.ArrayLike) -> npt.NDArray[np.str_]:
        """Name of the SIREN sector containing each point (``GetContainingSector``).

        Overlaps are resolved as SIREN does: the object defined later in the file wins.

        Args:
            points: positions [m] in detector coordinates, shape (n, 3) or (3,).

        Returns:
            Array of sector names, shape (n,).
        """
        siren = load_siren()
        siren_detector, siren_math = siren.detector, siren.math

        pts = np.atleast_2d(np.asarray(points, dtype=float))
        dm = self.detector_model
        names = [
            dm.GetContainingSector(
                siren_detector.DetectorPosition(siren_math.Vector3D(*map(float, p)))
            ).name
            for p in pts
        ]
        return np.asarray(names, dtype=str)

    def density_at(self, points: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Mass density at each point [g/cm³] (``GetMassDensity``).

        Args:
            points: positions [m] in detector coordinates, shape (n, 3) or (3,).

        Returns:
            Array of densities, shape (n,).
        """
        siren = load_siren()
        siren_detector, siren_math = siren.detector, siren.math

        pts = np.atleast_2d(np.asarray(points, dtype=float))
        dm = self.detector_model
        return np.asarray(
            [
                dm.GetMassDensity(
                    siren_detector.DetectorPosition(siren_math.Vector3D(*map(float, p)))
                )
                for p in pts
            ],
            dtype=float,
        )

    def sector_box(
        self, sector_name: str
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Centre and full widths [m] of a box-shaped sector, as declared in the model.

        Args:
            sector_name: SIREN sector name.

        Returns:
            ``(centre, widths)``, each of shape (3,).

        Raises:
            InputError: no box sector of that name.
        """
        for s in self.detector_model.Sectors:
            if s.name == sector_name and hasattr(s.geo, "X"):
                pos = s.geo.placement.Position
                centre = np.array([pos.GetX(), pos.GetY(), pos.GetZ()], dtype=float)
                return centre, np.array([s.geo.X, s.geo.Y, s.geo.Z], dtype=float)
        msg = f"no box-shaped sector {sector_name!r} in {self.name}/{self.variant}"
        raise InputError(msg)

    def sector_density(self, sector_name: str) -> float:
        """Density [g/cm³] a sector declares at its centre (ignores overlaps).

        Args:
            sector_name: SIREN sector name.

        Returns:
            The sector's own mass density.
        """
        siren_math = load_siren().math

        sector = self.detector_model.GetSector(sector_name)
        centre, _ = self.sector_box(sector_name)
        return float(sector.density.Evaluate(siren_math.Vector3D(*centre)))

    @property
    def material_names(self) -> tuple[str, ...]:
        """Names of every material SIREN loaded (``VACUUM`` first)."""
        mats = self.detector_model.Materials
        names: list[str] = []
        while True:
            try:
                names.append(str(mats.GetMaterialName(len(names))))
            except IndexError:
                return tuple(names)

    def material_of(self, sector_name: str) -> str:
        """Name of the material of a sector.

        Args:
            sector_name: SIREN sector name.

        Returns:
            The material name as in ``materials.dat``.
        """
        sector = self.detector_model.GetSector(sector_name)
        return str(self.detector_model.Materials.GetMaterialName(sector.material_id))

    def material_targets(self, material: str) -> tuple[int, ...]:
        """PDG codes of the nuclei SIREN loaded for a material (unknown nuclei are absent).

        Args:
            material: material name.

        Returns:
            Sorted PDG codes of the nuclear targets (codes >= 1000000000).
        """
        mats = self.detector_model.Materials
        if not mats.HasMaterial(material):
            msg = f"no material {material!r} in {self.name}/{self.variant}"
            raise InputError(msg)
        constituents = mats.GetMaterialConstituents(mats.GetMaterialId(material))
        codes = (int(p) for p in constituents)
        return tuple(sorted(c for c in codes if 1_000_000_000 <= c < 2_000_000_000))

    def mass_in_sectors(
        self,
        sector_patterns: Sequence[str],
        n_points: int = 200_000,
        seed: int = 12345,
    ) -> tuple[float, float]:
        """Monte Carlo mass of the material SIREN assigns to a set of sectors.

        Points are drawn over the bounding box of the matching sectors, stratified in z
        (thin absorber layers are z-slabs) and uniform in x and y; each point contributes
        its density if the containing sector (overlaps resolved as in SIREN) matches.

        Args:
            sector_patterns: glob patterns on sector names.
            n_points: number of points.
            seed: random seed.

        Returns:
            ``(mass, error)`` in tonnes (error: Monte Carlo standard error).

        Raises:
            InputError: no box sector matches the patterns.
        """
        names = [
            n
            for n in dict.fromkeys(self.sector_names)
            if any(fnmatch.fnmatchcase(n, p) for p in sector_patterns)
        ]
        if not names:
            msg = f"no sector of {self.name} matches {list(sector_patterns)}"
            raise InputError(msg)
        lows, highs = [], []
        for n in names:
            c, w = self.sector_box(n)
            lows.append(c - w / 2)
            highs.append(c + w / 2)
        lo, hi = np.min(lows, axis=0), np.max(highs, axis=0)
        rng = np.random.default_rng(seed)
        pts = lo + rng.random((n_points, 3)) * (hi - lo)
        pts[:, 2] = lo[2] + (np.arange(n_points) + rng.random(n_points)) / n_points * (
            hi[2] - lo[2]
        )
        sectors = self.sector_at(pts)
        selected = np.isin(sectors, names)
        rho = np.zeros(n_points)
        rho[selected] = self.density_at(pts[selected])
        volume_cm3 = float(np.prod(hi - lo)) * 1e6
        mass_t = volume_cm3 * rho.mean() * 1e-6
        err_t = volume_cm3 * rho.std(ddof=1) / np.sqrt(n_points) * 1e-6
        return float(mass_t), float(err_t)


# ----------------------------------------------------------------------------------------
# Model specifications (YAML)
# ----------------------------------------------------------------------------------------
def available_models() -> dict[str, tuple[str, ...]]:
    """List the geometry models and their variants.

    Returns:
        Mapping of model name to its variant names.
    """
    return {name: tuple(_read_spec(name)["variants"]) for name in _model_files()}


def variants(name: str) -> tuple[str, ...]:
    """Variants of one model.

    Args:
        name: model name or alias.

    Returns:
        The variant names.
    """
    return tuple(_read_spec(_canonical_name(name))["variants"])


def _model_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(_GEOMETRY_DIR.glob("*.yaml"))}


def _canonical_name(name: str) -> str:
    if not isinstance(name, str):
        msg = f"geometry model name must be a string, got {type(name).__name__}"
        raise InputError(msg)
    files = _model_files()
    key = name.strip().lower()
    for stem in files:
        spec = _read_spec(stem)
        aliases = [stem, *spec.get("aliases", [])]
        if key in (a.lower() for a in aliases):
            return stem
    valid = []
    for stem in files:
        valid.append(stem)
        valid.extend(_read_spec(stem).get("aliases", []))
    msg = f"unknown detector geometry {name!r}; valid names: {', '.join(valid)}"
    raise InputError(msg)


_SPEC_CACHE: dict[str, dict[str, Any]] = {}


def _read_spec(stem: str) -> dict[str, Any]:
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


def _resolve_variant(spec: Mapping[str, Any], name: str, variant: str) -> dict[str, Any]:
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
        base = _resolve_variant(spec, name, parent)
        for key in ("sectors", "remove_sectors", "add_sectors", "provenance"):
            resolved[key] = [*base.get(key, []), *resolved.get(key, [])]
        resolved["materials"] = {**base.get("materials", {}), **resolved.get("materials", {})}
        for key in ("fiducial", "description"):
            resolved.setdefault(key, base.get(key))
    return resolved


# ----------------------------------------------------------------------------------------
# SIREN-format files: parse, modify, write
# ----------------------------------------------------------------------------------------
def _base_dir(base: str) -> Path:
    kind, _, rel = base.partition(":")
    if kind.strip() != "siren" or not rel.strip():
        msg = f"geometry base {base!r} must read 'siren:<Detector>/<Detector-version>'"
        raise DataFileError(msg)
    siren_util = load_siren()._util

    path = Path(siren_util.resource_package_dir()) / "detectors" / rel.strip()
    for fname in ("densities.dat", "materials.dat"):
        if not (path / fname).is_file():
            msg = f"the installed siren has no {fname} for base {base!r} (looked in {path})"
            raise DataFileError(msg)
    return path


@dataclass
class _Object:
    """One ``object`` line of a densities file."""

    raw: str
    shape: str
    coords: list[str]
    label: str
    material: str
    distribution: list[str]
    comment: str
    modified: bool = False

    def render(self) -> str:
        if not self.modified:
            return self.raw
        text = " ".join(
            ["object", self.shape, *self.coords, self.label, self.material, *self.distribution]
        )
        return f"{text}   # t2khnl: {self.comment}" if self.comment else text


def _parse_densities(text: str) -> list[str | _Object]:
    out: list[str | _Object] = []
    for raw in text.splitlines():
        body = raw.split("#", 1)[0]
        tokens = body.split()
        if not tokens or raw[:1].isspace() or tokens[0] != "object":
            out.append(raw)
            continue
        shape = tokens[1]
        n_coords = {"box": 9, "sphere": 7}.get(shape)
        if n_coords is None:
            msg = f"unsupported shape {shape!r} in densities line: {raw!r}"
            raise DataFileError(msg)
        coords = tokens[2 : 2 + n_coords]
        label, material = tokens[2 + n_coords], tokens[3 + n_coords]
        out.append(_Object(raw, shape, coords, label, material, tokens[4 + n_coords :], ""))
    return out


@dataclass
class _Material:
    """One material block of a materials file."""

    name: str
    header_raw: str
    declared_count: int | None
    components: list[tuple[int, float, str]]
    modified: bool = False
    comment: str = ""

    def render(self) -> list[str]:
        if not self.modified:
            return [self.header_raw, *(raw for _, _, raw in self.components)]
        head = f"{self.name} {len(self.components)}"
        if self.comment:
            head += f"   # t2khnl: {self.comment}"
        return [head, *(f"{pdg}  {w!r}" for pdg, w, _ in self.components)]


def _parse_materials(text: str) -> list[str | _Material]:
    out: list[str | _Material] = []
    current: _Material | None = None
    for raw in text.splitlines():
        tokens = raw.split("#", 1)[0].split()
        if not tokens or raw[:1].isspace():
            out.append(raw)
            current = None
            continue
        if _PDG_RE.match(tokens[0]) and len(tokens) >= 2 and current is not None:
            current.components.append((int(tokens[0]), float(tokens[1]), raw))
            continue
        count = int(tokens[1]) if len(tokens) > 1 and tokens[1].isdigit() else None
        current = _Material(tokens[0], raw, count, [])
        out.append(current)
    return out


def _apply_variant(
    densities: list[str | _Object],
    materials: list[str | _Material],
    var: Mapping[str, Any],
    where: str,
) -> list[str | _Object]:
    objects = [o for o in densities if isinstance(o, _Object)]
    for rule in var.get("sectors", []):
        pattern = rule["match"]
        hits = [o for o in objects if fnmatch.fnmatchcase(o.label, pattern)]
        expected = rule.get("expect")
        if not hits or (expected is not None and len(hits) != expected):
            msg = (
                f"{where}: sector rule {pattern!r} matched {len(hits)} sectors"
                f" (expected {expected if expected is not None else '>= 1'})"
            )
            raise DataFileError(msg)
        for o in hits:
            if "density" in rule:
                if o.distribution[:1] != ["constant"]:
                    msg = f"{where}: sector {o.label} has no constant density to override"
                    raise DataFileError(msg)
                o.distribution = ["constant", repr(float(rule["density"]))]
            if "material" in rule:
                o.material = str(rule["material"])
            o.comment = str(rule.get("why", "modified")).replace("\n", " ")[:160]
            o.modified = True
    removed = set()
    for pattern in var.get("remove_sectors", []):
        hits = {o.label for o in objects if fnmatch.fnmatchcase(o.label, pattern)}
        if not hits:
            msg = f"{where}: remove_sectors pattern {pattern!r} matched nothing"
            raise DataFileError(msg)
        removed |= hits
    result: list[str | _Object] = [
        o for o in densities if not (isinstance(o, _Object) and o.label in removed)
    ]
    added = []
    for item in var.get("add_sectors", []):
        c, w = item["centre"], item["widths"]
        coords = [*map(repr, map(float, c)), "0", "0", "0", *map(repr, map(float, w))]
        obj = _Object(
            "",
            "box",
            coords,
            item["name"],
            item["material"],
            ["constant", repr(float(item["density"]))],
            item.get("why", "added"),
            modified=True,
        )
        added.append(obj)
    if added:
        # Later objects win overlaps, so additions go after every base object.
        last = max(i for i, o in enumerate(result) if isinstance(o, _Object))
        result[last + 1 : last + 1] = added

    by_name = {m.name: m for m in materials if isinstance(m, _Material)}
    for mat_name, rule in var.get("materials", {}).items():
        rule = rule or {}
        comment = str(rule.get("why", "modified")).replace("\n", " ")[:160]
        if "components" in rule:
            comps = [(int(k), float(v), "") for k, v in rule["components"].items()]
            total = sum(w for _, w, _ in comps)
            if abs(total - 1.0) > 1e-6:
                msg = f"{where}: mass fractions of {mat_name} sum to {total}, not 1"
                raise DataFileError(msg)
            if mat_name in by_name:
                mat = by_name[mat_name]
                mat.components = comps
            else:
                mat = _Material(mat_name, "", None, comps)
                materials.append("")
                materials.append(mat)
                by_name[mat_name] = mat
            mat.modified, mat.comment = True, comment
        elif rule.get("fix_component_count"):
            mat = by_name.get(mat_name)
            if mat is None or mat.declared_count is not None:
                msg = f"{where}: {mat_name} has no missing component count to fix"
                raise DataFileError(msg)
            mat.modified, mat.comment = True, comment
        else:
            msg = f"{where}: material rule for {mat_name} needs 'components' or a fix"
            raise DataFileError(msg)
    return result


def _fiducial_boxes(entries: Sequence[Mapping[str, Any]], where: str) -> tuple[FiducialBox, ...]:
    boxes = []
    for e in entries:
        centre = np.asarray(e["centre"], dtype=float)
        widths = np.asarray(e["widths"], dtype=float)
        if centre.shape != (3,) or widths.shape != (3,) or np.any(widths <= 0):
            msg = f"{where}: fiducial box {e.get('name')!r} needs 3 centres and 3 positive widths"
            raise DataFileError(msg)
        boxes.append(FiducialBox(str(e["name"]), centre, widths))
    return tuple(boxes)


def cache_root() -> Path:
    """Folder under which materialised geometries are cached.

    Returns:
        ``$T2KHNL_CACHE_DIR/geometry``, else ``$XDG_CACHE_HOME/t2khnl/geometry``, else
        ``~/.cache/t2khnl/geometry``.
    """
    env = os.environ.get("T2KHNL_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "geometry"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "t2khnl" / "geometry"


def _materialise(
    name: str,
    variant: str,
    spec: Mapping[str, Any],
    var: Mapping[str, Any],
    cache_dir: Path,
) -> tuple[Path, Path]:
    base_dir = _base_dir(spec["base"])
    dens_text = (base_dir / "densities.dat").read_text(encoding="utf-8")
    mat_text = (base_dir / "materials.dat").read_text(encoding="utf-8")
    recipe = {
        "format": _FORMAT_VERSION,
        "name": name,
        "variant": variant,
        "var": var,
        "fiducial": spec["fiducial"] if var.get("fiducial") is None else var["fiducial"],
    }
    digest = hashlib.sha256()
    for part in (dens_text, mat_text, json.dumps(recipe, sort_keys=True, default=str)):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    folder = cache_dir / f"{name}-{variant}-{digest.hexdigest()[:16]}"
    dens_path, mat_path = folder / "densities.dat", folder / "materials.dat"
    if dens_path.is_file() and mat_path.is_file():
        logger.debug("geometry %s/%s: using cached %s", name, variant, folder)
        return dens_path, mat_path

    where = f"{name}.yaml variant {variant!r}"
    densities = _parse_densities(dens_text)
    materials = _parse_materials(mat_text)
    densities = _apply_variant(densities, materials, var, where)
    header = [
        f"# t2khnl geometry {name}/{variant}: generated from {spec['base']} by t2khnl.geometry",
        f"# ({base_dir}); the corrections are listed in geometry/{name}.yaml. Do not edit.",
    ]
    dens_lines: list[str] = [*header]
    for item in densities:
        if isinstance(item, _Object):
            dens_lines.append(item.render())
        elif item.split("#", 1)[0].split()[:1] == ["fiducial"]:
            # SIREN models carry one fiducial box; ours are listed in the YAML instead.
            dens_lines.append(f"# t2khnl: base fiducial volume dropped: {item.strip()}")
        else:
            dens_lines.append(item)
    mat_lines: list[str] = [*header]
    for m in materials:
        mat_lines.extend(m.render() if isinstance(m, _Material) else [m])

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = apply_folder_mode(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    (tmp / "densities.dat").write_text("\n".join(dens_lines) + "\n", encoding="utf-8")
    (tmp / "materials.dat").write_text("\n".join(mat_lines) + "\n", encoding="utf-8")
    (tmp / "recipe.json").write_text(
        json.dumps({**recipe, "base_dir": str(base_dir)}, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    try:
        tmp.rename(folder)
    except OSError:
        # Another process materialised the same recipe first: keep theirs.
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    logger.info("geometry %s/%s materialised in %s", name, variant, folder)
    return dens_path, mat_path


_LOADED: dict[tuple[str, str, str], DetectorGeometry] = {}


def load(
    name: str,
    variant: str = DEFAULT_VARIANT,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> DetectorGeometry:
    """Load a detector geometry.

    Args:
        name: model name, ``"nd280"`` or ``"nd280upgrade"`` (aliases such as ``"ND280"``,
            ``"ND280UPGRD"`` are accepted; case-insensitive).
        variant: ``"corrected"`` (default: physical gas density, fixed material files) or
            ``"published"`` (the geometry of arXiv:2412.15051's authors); see the YAML files
            for the other variants.
        cache_dir: folder for the materialised SIREN files; defaults to :func:`cache_root`.

    Returns:
        The loaded geometry; repeated calls return the same object.

    Raises:
        InputError: unknown model or variant.
        DataFileError: the YAML or the base SIREN files are missing or malformed.
    """
    stem = _canonical_name(name)
    spec = _read_spec(stem)
    if not isinstance(variant, str):
        msg = f"variant must be a string, got {type(variant).__name__}"
        raise InputError(msg)
    var = _resolve_variant(spec, stem, variant)
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    key = (stem, variant, str(root))
    if key in _LOADED:
        return _LOADED[key]

    dens_path, mat_path = _materialise(stem, variant, spec, var, root)
    siren_detector = load_siren().detector

    model = siren_detector.DetectorModel()
    model.LoadMaterialModel(str(mat_path))
    model.LoadDetectorModel(str(dens_path))

    where = f"{stem}.yaml"
    fid_entries = var.get("fiducial") or spec["fiducial"]
    sector_names = [s.name for s in model.Sectors]
    gas = tuple(
        n
        for n in dict.fromkeys(sector_names)
        if any(fnmatch.fnmatchcase(n, p) for p in spec["gas_sectors"])
    )
    if not gas:
        msg = f"{where}: gas_sectors {spec['gas_sectors']} match no sector"
        raise DataFileError(msg)
    rules = tuple((r["region"], tuple(r["sectors"])) for r in spec["regions"])
    geom = DetectorGeometry(
        name=stem,
        variant=variant,
        description=str(var.get("description", "")).strip(),
        detector_model=model,
        densities_path=dens_path,
        materials_path=mat_path,
        base=str(spec["base"]),
        fiducial=_fiducial_boxes(fid_entries, where),
        gas_sectors=gas,
        region_rules=rules,
        provenance=tuple(str(p).strip() for p in var.get("provenance", [])),
    )
    _LOADED[key] = geom
    return geom
