"""A loaded detector geometry: the SIREN detector model of one variant, its fiducial boxes
[m] and the lookup of regions (see README.md; lengths in metres, beam along +z, densities
in g/cm³, masses in tonnes).
"""

from __future__ import annotations

import fnmatch
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from t2khnl._siren import load as load_siren
from t2khnl.errors import DataFileError, InputError

from .siren_files import cache_root, materialise
from .spec import (
    DEFAULT_VARIANT,
    FALLBACK_REGION,
    FiducialBox,
    canonical_name,
    parse_decay_regions,
    parse_fiducial_boxes,
    read_spec,
    resolve_variant,
)

__all__ = ["DetectorGeometry", "load"]

logger = logging.getLogger(__name__)


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
        decay_regions: other sets of boxes a preset may count decays in instead of the
            fiducial boxes (``decay_regions`` of the YAML, e.g. ``tpc_gas``: the TPCs'
            whole drift-gas volumes), by name; see :meth:`decay_boxes`.
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
    decay_regions: Mapping[str, tuple[FiducialBox, ...]] = field(default_factory=dict)
    _region_cache: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    # -- decay regions ------------------------------------------------------------------
    def decay_boxes(self, region: str) -> tuple[FiducialBox, ...]:
        """The boxes decays are counted in for a preset's ``decay_region``.

        Args:
            region: ``"fiducial"`` (the fiducial boxes) or a name of :attr:`decay_regions`
                (``"tpc_gas"``: each TPC's whole gas volume, named as its fiducial box).

        Raises:
            InputError: an unknown region.
        """
        if region == "fiducial":
            return self.fiducial
        if region not in self.decay_regions:
            valid = ", ".join(["fiducial", *self.decay_regions])
            msg = f"no decay region {region!r} in geometry {self.name}; valid: {valid}"
            raise InputError(msg)
        return self.decay_regions[region]

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
        region = FALLBACK_REGION
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
        A new geometry each call, loaded from the materialised files (the only cache:
        once they exist a load takes ~1-2 ms, against seconds for a simulation, so callers
        may load it again rather than keep it).

    Raises:
        InputError: unknown model or variant.
        DataFileError: the YAML or the base SIREN files are missing or malformed.
    """
    stem = canonical_name(name)
    spec = read_spec(stem)
    if not isinstance(variant, str):
        msg = f"variant must be a string, got {type(variant).__name__}"
        raise InputError(msg)
    var = resolve_variant(spec, stem, variant)
    root = Path(cache_dir).expanduser() if cache_dir is not None else cache_root()
    dens_path, mat_path = materialise(stem, variant, spec, var, root)
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
    return DetectorGeometry(
        name=stem,
        variant=variant,
        description=str(var.get("description", "")).strip(),
        detector_model=model,
        densities_path=dens_path,
        materials_path=mat_path,
        base=str(spec["base"]),
        fiducial=parse_fiducial_boxes(fid_entries, where),
        gas_sectors=gas,
        region_rules=rules,
        provenance=tuple(str(p).strip() for p in var.get("provenance", [])),
        decay_regions=parse_decay_regions(spec.get("decay_regions", {}), fid_entries, where),
    )
