"""Other experiments' results in the (m_N, d_muN) plane, as the analysis uses them.

* existing limits from the ``hnlimits`` package, converted to our d convention and to 95% CL
  as listed in ``existing_limits.yaml`` (see :func:`cl_factor`), and their envelope
  (:func:`envelope`: the strongest existing limit at each mass, for "world-leading"
  statements);
* the MiniBooNE-preferred 95% CL regions (Kamp et al. 2206.07100) from the data folder,
  sha256-checked through :func:`t2khnl.flux.verify`.

The headline numbers (:mod:`t2khnl.headlines`) and Fig. 4 (:mod:`t2khnl.plots.constraints`)
both read them from here.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from .errors import DataFileError, InputError

logger = logging.getLogger(__name__)

MINIBOONE_FILES: dict[str, tuple[str, ...]] = {
    r"MiniBooNE $E_\nu^{\rm QE}$ 95% CL": (
        "minibooNE_region/EnuQE_0.950_CL_Path0.txt",
        "minibooNE_region/EnuQE_0.950_CL_Path1.txt",
    ),
    r"MiniBooNE $\cos\theta$ 95% CL": ("minibooNE_region/CosTheta_0.950_CL_Path0.txt",),
}
"""Legend label -> manifest paths of its closed polygons (m_N [MeV], d [GeV^-1])."""

_SIGNAL_STATS = ("poisson0", "chi2")


# --------------------------------------------------------------------------------------
# CL conversion and the existing-limits table
# --------------------------------------------------------------------------------------
def _signal_at(cl: float, stat: str) -> float:
    """Signal (in its own units) needed for an upper limit at ``cl``.

    ``poisson0``: zero-background Poisson counting, s = -ln(1 - CL) (2.303 at 90%, 2.996 at
    95%). ``chi2``: Gaussian, 1 dof, s ∝ sqrt(Δχ²) with Δχ² the chi² quantile at CL.
    """
    if not 0.0 < cl < 1.0:
        msg = f"confidence level must be in (0, 1), got {cl}"
        raise InputError(msg)
    if stat == "poisson0":
        return -math.log(1.0 - cl)
    if stat == "chi2":
        from scipy.stats import chi2

        return math.sqrt(float(chi2.ppf(cl, 1)))
    msg = f"unknown statistics {stat!r}; valid: {', '.join(_SIGNAL_STATS)}"
    raise InputError(msg)


def cl_factor(
    cl_from: float, cl_to: float = 0.95, power: float = 2, stat: str = "poisson0"
) -> float:
    """Factor on d turning a limit at ``cl_from`` into one at ``cl_to``.

    With a signal yield ∝ d^power, the d excluded at a CL scales as s_CL^(1/power), so the
    factor is (s_to / s_from)^(1/power). For zero-background counting and d² yields,
    90% -> 95% gives sqrt(2.996/2.303) = 1.1406; d⁴ gives 1.0680. For ``chi2`` the signal
    ratio is sqrt(3.841/2.706) = 1.1914.

    Args:
        cl_from: the stored CL (0.90).
        cl_to: the wanted CL (0.95).
        power: n in yield ∝ d^n (> 0).
        stat: ``"poisson0"`` or ``"chi2"`` (see :func:`_signal_at`).

    Returns:
        The multiplicative factor on d.
    """
    if power <= 0:
        msg = f"yield power must be > 0, got {power}"
        raise InputError(msg)
    ratio = _signal_at(cl_to, stat) / _signal_at(cl_from, stat)
    return float(ratio ** (1.0 / power))


@dataclass(frozen=True)
class LimitSpec:
    """One existing limit as ``existing_limits.yaml`` lists it (its header says more).

    Attributes:
        label: the name written beside the limit.
        files: the ``hnlimits`` files of its outline, relative to :attr:`LimitsConfig.base`,
            concatenated in order (``"reversed:"``: appended back to front).
        mass_unit: the files' mass unit, ``"MeV"`` or ``"GeV"``.
        d_factor: factor from the files' d to our d_muN [dimensionless].
        cl: the confidence level the files are at (0.90).
        stat: how that CL converts to :attr:`LimitsConfig.target_cl` (``"poisson0"`` or
            ``"chi2"``, :func:`cl_factor`).
        power: n in signal yield ∝ d^n near the lower boundary.
        shape: ``"polygon"`` (closed excluded region) or ``"lower_curve"`` (excluded above).
        color: the outline's colour.
        not_boundary: files of a polygon that are not a boundary of the excluded region.
        note: where the limit comes from and why these choices.
    """

    label: str
    files: tuple[str, ...]
    mass_unit: str
    d_factor: float
    cl: float
    stat: str
    power: float
    shape: str
    color: str
    not_boundary: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class LimitsConfig:
    """``existing_limits.yaml``: which ``hnlimits`` files are the existing limits, and how
    they convert to our d and CL.

    Attributes:
        schema_version: the file's format version.
        package: the package the files come from (``HNLimits``).
        base: the folder of the dipole files inside the package.
        target_cl: the confidence level every limit is converted to (0.95).
        limits: each limit's entry, by name, in file order.
    """

    schema_version: int
    package: str
    base: str
    target_cl: float
    limits: Mapping[str, LimitSpec]


@lru_cache(maxsize=1)
def limits_config() -> LimitsConfig:
    """The ``existing_limits.yaml`` shipped beside this module, parsed."""
    text = resources.files("t2khnl").joinpath("existing_limits.yaml").read_text("utf-8")
    parsed = yaml.safe_load(text)
    limits = {name: LimitSpec(**{**spec, "files": tuple(spec["files"]),
                                 "not_boundary": tuple(spec.get("not_boundary", ())),
                                 "d_factor": float(spec["d_factor"]), "cl": float(spec["cl"]),
                                 "power": float(spec["power"])})
              for name, spec in parsed["limits"].items()}
    return LimitsConfig(schema_version=int(parsed["schema_version"]),
                        package=str(parsed["package"]), base=str(parsed["base"]),
                        target_cl=float(parsed["target_cl"]), limits=limits)


def hnlimits_dir() -> Path | None:
    """Folder of the installed ``hnlimits`` dipole data, or ``None`` (warning logged)."""
    try:
        import HNLimits  # optional dependency
    except ImportError:
        logger.warning("hnlimits is not installed (pip install hnlimits): no existing limits")
        return None
    base = Path(HNLimits.__file__).resolve().parent / limits_config().base
    if not base.is_dir():
        logger.warning("hnlimits has no %s: no existing limits", base)
        return None
    return base


@dataclass(frozen=True, eq=False)
class Limit:
    """One existing limit, converted: masses [MeV], d [GeV^-1] at 95% CL, our convention.

    ``outline`` holds the parts of its outline that are boundaries of the excluded region,
    as (n, 2) arrays of (m [MeV], d [GeV^-1]): a lower curve's curve, a polygon's files but
    those the YAML lists as ``not_boundary`` (a digitised plot's edge). Empty: the whole
    outline.
    """

    name: str
    label: str
    mass_mev: npt.NDArray[np.float64]
    d: npt.NDArray[np.float64]
    shape: str
    color: str
    factor: float
    source: tuple[Path, ...]
    outline: tuple[npt.NDArray[np.float64], ...] = ()


def _read_two_columns(path: Path) -> npt.NDArray[np.float64]:
    rows: list[tuple[float, float]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        parts = text.replace(",", " ").split()
        rows.append((float(parts[0]), float(parts[1])))
    if len(rows) < 2:
        msg = f"{path}: fewer than two (m, d) rows"
        raise DataFileError(msg)
    return np.array(rows, dtype=np.float64)


def load_existing_limits() -> list[Limit]:
    """Load every limit of ``existing_limits.yaml`` from ``hnlimits``, converted.

    A missing package or file is skipped with a logged warning.
    """
    base = hnlimits_dir()
    if base is None:
        return []
    config = limits_config()
    target = config.target_cl
    out: list[Limit] = []
    for name, spec in config.limits.items():
        parts: list[npt.NDArray[np.float64]] = []
        paths: list[Path] = []
        boundary: list[bool] = []
        for entry in spec.files:
            reverse = entry.startswith("reversed:")
            path = base / entry.removeprefix("reversed:")
            if not path.is_file():
                logger.warning("hnlimits lacks %s: skipping the %s limit", path, name)
                parts = []
                break
            table = _read_two_columns(path)
            parts.append(table[::-1] if reverse else table)
            paths.append(path)
            boundary.append(entry not in spec.not_boundary)
        if not parts:
            continue
        table = np.concatenate(parts)
        to_mev = {"MeV": 1.0, "GeV": 1.0e3}[spec.mass_unit]
        factor = spec.d_factor * cl_factor(spec.cl, target, spec.power, spec.stat)
        scale = np.array([to_mev, factor])
        outline = () if all(boundary) else tuple(
            part * scale for part, drawn in zip(parts, boundary, strict=True) if drawn)
        out.append(
            Limit(
                name=name,
                label=spec.label,
                mass_mev=table[:, 0] * to_mev,
                d=table[:, 1] * factor,
                shape=spec.shape,
                color=spec.color,
                factor=factor,
                source=tuple(paths),
                outline=outline,
            )
        )
        logger.debug(
            "existing limit %s: d × %.4f (convention, CL %s -> %s)",
            name,
            factor,
            spec.cl,
            target,
        )
    return out


# --------------------------------------------------------------------------------------
# Lower boundaries and their envelope
# --------------------------------------------------------------------------------------
def lower_boundary(limit: Limit, mass_mev: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Lowest excluded d of one limit at each mass (NaN where it excludes nothing).

    The limit's outline (a closed polygon, or an open curve excluded above) is cut by the
    vertical line at each mass; crossings are interpolated linearly in (log m, log d) and
    the smallest is returned.
    """
    masses = np.atleast_1d(np.asarray(mass_mev, dtype=np.float64))
    x = np.log(limit.mass_mev)
    y = np.log(limit.d)
    if limit.shape == "polygon":
        x = np.append(x, x[0])
        y = np.append(y, y[0])
    x0, x1, y0, y1 = x[:-1], x[1:], y[:-1], y[1:]
    result = np.full(masses.shape, np.nan)
    for i, m in enumerate(np.log(masses)):
        lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
        hit = (lo <= m) & (m <= hi)
        if not np.any(hit):
            continue
        dx = x1[hit] - x0[hit]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(dx != 0, (m - x0[hit]) / dx, 0.0)
        ys = y0[hit] + t * (y1[hit] - y0[hit])
        # a vertical edge at exactly this mass: its lower end is the crossing
        ys = np.where(dx != 0, ys, np.minimum(y0[hit], y1[hit]))
        result[i] = math.exp(float(np.min(ys)))
    return result


def envelope(
    mass_mev: npt.ArrayLike, limits: Iterable[Limit] | None = None
) -> npt.NDArray[np.float64] | float:
    """Strongest existing limit: the lowest excluded d over all limits at each mass.

    Args:
        mass_mev: mass or masses [MeV].
        limits: the limits to combine; defaults to :func:`load_existing_limits`.

    Returns:
        d [GeV^-1] at 95% CL in our convention, NaN where no limit is defined; a float for a
        scalar mass.
    """
    chosen = load_existing_limits() if limits is None else list(limits)
    masses = np.asarray(mass_mev, dtype=np.float64)
    flat = np.atleast_1d(masses)
    best = np.full(flat.shape, np.nan)
    for limit in chosen:
        best = np.fmin(best, lower_boundary(limit, flat))
    if masses.ndim == 0:
        return float(best[0])
    return best.reshape(masses.shape)


# --------------------------------------------------------------------------------------
# Inputs: MiniBooNE regions and our contours
# --------------------------------------------------------------------------------------
def miniboone_regions(
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, list[npt.NDArray[np.float64]]]:
    """The MiniBooNE-preferred 95% CL regions: label -> list of (n, 2) polygons.

    Columns: m_N [MeV], d_muN [GeV^-1]. Each file is one polygon, whitespace-separated,
    no header; some are not explicitly closed (the last vertex joins the first).
    """
    from .flux import verify

    regions: dict[str, list[npt.NDArray[np.float64]]] = {}
    for label, names in MINIBOONE_FILES.items():
        polys = []
        for name in names:
            table = np.loadtxt(verify(name, data_dir), dtype=np.float64, ndmin=2)
            if table.shape[1] != 2 or np.any(table <= 0):
                msg = f"{name}: expected two positive columns (m_N [MeV], d [GeV^-1])"
                raise DataFileError(msg)
            polys.append(table)
        regions[label] = polys
    return regions


__all__ = [
    "MINIBOONE_FILES",
    "Limit",
    "LimitSpec",
    "LimitsConfig",
    "cl_factor",
    "envelope",
    "hnlimits_dir",
    "limits_config",
    "load_existing_limits",
    "lower_boundary",
    "miniboone_regions",
]
