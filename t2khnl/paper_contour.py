"""The paper's own contour procedure, applied to any yields on the authors' grid.

arXiv:2412.15051's curves (Fig. 4) were not scanned in d at fixed mass, as
:mod:`t2khnl.limit` does: the authors contoured a 10 x 10 grid (m_N 0.01-2 GeV, mu_tr
1e-7-1e-5 GeV^-1, d = mu_tr / 2, both log-spaced) by interpolating log10(yield) linearly on
the Delaunay triangulation of the grid points onto a :data:`LATTICE_POINTS` x
:data:`LATTICE_POINTS` lattice in (log10 m_N, log10 d). :func:`grid_contour` is that
procedure for any statistic on the grid; :func:`lower_edge` reads a contour's lower edge at
a mass [GeV]; :func:`grid_statistic` computes our preset's statistic (expected signal over
the signal the preset excludes at 95% CL) on the grid.

Details: docs/published.md ("The residual at the turnover and at 1 GeV").
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import contourpy
import numpy as np
import numpy.typing as npt
from scipy.interpolate import griddata
from scipy.optimize import brentq

from . import authors, config, experiment, generate, limit, model, select
from .config import Preset
from .errors import InputError
from .samples import SampleMetadata

#: The authors' grid (:mod:`t2khnl.authors`): masses [GeV], mu_tr and d = mu_tr / 2 [GeV^-1].
GRID_MASSES_GEV = authors.GRID_MASSES_GEV
GRID_MU_TR_GEV_INV = authors.GRID_MU_TR_GEV_INV
GRID_D_GEV_INV = np.asarray(model.d_from_mu_tr(GRID_MU_TR_GEV_INV), dtype=float)
#: Nodes per axis of the lattice their contour was drawn on (inferred, see above).
LATTICE_POINTS = 15
#: Statistic [same unit as the level] below which a grid point is taken as this floor
#: before the logarithm (a point with no signal).
STATISTIC_FLOOR = 1e-30

FloatArray = npt.NDArray[np.float64]


def grid_contour(masses_gev: Sequence[float] | FloatArray, d_gev_inv: Sequence[float] | FloatArray,
                 statistic: npt.ArrayLike, level: float, *,
                 lattice_points: int = LATTICE_POINTS) -> list[FloatArray]:
    """The authors' contour of a statistic on a mass x coupling grid.

    Args:
        masses_gev: the grid's masses m_N [GeV] (increasing).
        d_gev_inv: the grid's couplings d [GeV^-1] (increasing).
        statistic: shape (len(d_gev_inv), len(masses_gev)), e.g. expected signal events;
            values at or below :data:`STATISTIC_FLOOR` count as the floor.
        level: the contour level, in the statistic's unit (> 0).
        lattice_points: nodes per axis of the interpolation lattice.

    Returns:
        The contour lines, each an (n, 2) array of (m_N [GeV], d [GeV^-1]) vertices.

    Raises:
        InputError: shapes that do not match, a non-positive level or grid value, fewer
            than 2 lattice points.
    """
    masses = np.asarray(masses_gev, dtype=float)
    couplings = np.asarray(d_gev_inv, dtype=float)
    values = np.asarray(statistic, dtype=float)
    if values.shape != (couplings.size, masses.size) or masses.size < 2 or couplings.size < 2:
        msg = (f"statistic must have shape (couplings, masses) = ({couplings.size}, "
               f"{masses.size}) with at least 2 of each, got {values.shape}")
        raise InputError(msg)
    if not (np.all(masses > 0) and np.all(couplings > 0) and level > 0) or not np.all(
            np.isfinite(values)):
        msg = "masses, couplings and level must be positive and the statistic finite"
        raise InputError(msg)
    if lattice_points < 2:
        msg = f"lattice_points must be at least 2, got {lattice_points}"
        raise InputError(msg)
    x_grid, y_grid = np.meshgrid(np.log10(masses * 1e3), np.log10(couplings))
    z = np.log10(np.maximum(values, STATISTIC_FLOOR))
    x = np.linspace(x_grid.min(), x_grid.max(), lattice_points)
    y = np.linspace(y_grid.min(), y_grid.max(), lattice_points)
    lattice_x, lattice_y = np.meshgrid(x, y)
    lattice_z = griddata((x_grid.ravel(), y_grid.ravel()), z.ravel(), (lattice_x, lattice_y),
                         method="linear")
    lines = contourpy.contour_generator(lattice_x, lattice_y, lattice_z).lines(
        math.log10(level))
    points = [np.asarray(line, dtype=float) for line in lines]
    return [np.column_stack([10.0 ** xy[:, 0] * 1e-3, 10.0 ** xy[:, 1]])
            for xy in points if len(xy) > 1]


def lower_edge(lines: Sequence[FloatArray], mass_gev: float) -> float | None:
    """The smallest coupling [GeV^-1] at which contour lines cross the mass ``mass_gev``.

    Each line is followed segment by segment, linearly in (log m, log d), as it is drawn
    on log axes. Returns None where no line reaches the mass.
    """
    target = math.log(mass_gev)
    found = []
    for line in lines:
        lx, ly = np.log(line[:, 0]), np.log(line[:, 1])
        for i in range(len(line) - 1):
            lo, hi = sorted((lx[i], lx[i + 1]))
            if not lo <= target <= hi:
                continue
            if lx[i + 1] == lx[i]:
                found.append(min(ly[i], ly[i + 1]))
            else:
                t = (target - lx[i]) / (lx[i + 1] - lx[i])
                found.append(ly[i] + t * (ly[i + 1] - ly[i]))
    return float(math.exp(min(found))) if found else None


def threshold_ratio(signal: dict[str, float], cls_fn: Callable[[dict[str, float]], float],
                    *, alpha: float = 0.05) -> float:
    """The expected signal over the signal the statistics just excludes: 1 / mu*, where
    CLs(mu* x signal) = ``alpha`` (every channel scaled alike). It is 1 on the 95% CL
    contour, and for zero background with the asymptotic CLs+b of ``published`` it is the
    total signal / 1.353 events.

    Returns 0 for no signal.
    """
    total = sum(signal.values())
    if total <= 0:
        return 0.0

    def excess(log_mu: float) -> float:
        scaled = {k: v * math.exp(log_mu) for k, v in signal.items()}
        return math.log(cls_fn(scaled)) - math.log(alpha)

    # CLs falls with the signal; bracket mu* around 3 events in all, widening as needed
    start = math.log(3.0 / total)
    low, high = start - 2.0, start + 2.0
    for _ in range(60):
        if excess(low) > 0 > excess(high):
            break
        low, high = low - 2.0, high + 2.0
    else:
        msg = "no signal scale reaches CLs = alpha"
        raise InputError(msg)
    return float(math.exp(-brentq(excess, low, high, xtol=1e-10)))


@dataclass(frozen=True)
class GridStatistic:
    """A preset's signal on the authors' grid.

    Attributes:
        detector: ``"nd280"`` or ``"upgrade"``.
        preset: the preset's name.
        masses_gev: grid masses [GeV].
        d_gev_inv: grid couplings d [GeV^-1].
        signal: expected selected e+e- events (both beams), shape (couplings, masses).
        ratio: signal over the signal excluded at 95% CL (:func:`threshold_ratio`);
            the contour is ``ratio = 1``.
        n_events: upscatters injected per beam and mass.
    """

    detector: str
    preset: str
    masses_gev: FloatArray
    d_gev_inv: FloatArray
    signal: FloatArray
    ratio: FloatArray
    n_events: int

    def contour(self) -> list[FloatArray]:
        """The authors' contour (:func:`grid_contour`) of ``ratio`` at 1."""
        return grid_contour(self.masses_gev, self.d_gev_inv, self.ratio, 1.0)


def grid_statistic(detector: str, *, preset: str = "published", n_events: int = 10000,
                   seed: int = 1, data_dir: str | os.PathLike[str] | None = None,
                   masses_gev: Sequence[float] | None = None,
                   progress: Callable[[float], object] | None = None) -> GridStatistic:
    """Our preset's signal and threshold ratio on the authors' 10 x 10 grid.

    One simulation per mass and beam (as :func:`t2khnl.limit.run`: generated at
    :data:`t2khnl.limit.D_REF_GEV_INV`, kept for the grid's smallest coupling), selected,
    reweighted to the grid's couplings. A mass the flux cannot produce has no signal.

    Args:
        detector: ``"nd280"`` or ``"upgrade"``.
        preset: a preset name or file.
        n_events: upscatters per beam and mass.
        seed: random seed (each mass uses it).
        data_dir: input-data folder.
        masses_gev: the grid masses (default :data:`GRID_MASSES_GEV`).
        progress: called with each mass [GeV] when it is done.

    Raises:
        InputError: an unknown detector or preset.
    """
    config.check_choice("detector", detector, config.DETECTORS)
    cfg = config.load(preset)
    masses = np.asarray(GRID_MASSES_GEV if masses_gev is None else masses_gev, dtype=float)
    detector_experiment = experiment.build(detector, cfg)
    pot, background = detector_experiment.pot, detector_experiment.background
    cls_fn = detector_experiment.cls
    selection = select.load(cfg.selection_for(detector))
    signal = np.zeros((GRID_D_GEV_INV.size, masses.size))
    ratio = np.zeros_like(signal)
    for j, mass in enumerate(masses):
        signal_of_d = _signal_function(detector, float(mass), cfg, preset, pot, background,
                                       selection, n_events=n_events, seed=seed,
                                       data_dir=data_dir)
        if signal_of_d is not None:
            for i, d in enumerate(GRID_D_GEV_INV):
                counts = signal_of_d(float(d))
                signal[i, j] = sum(counts.values())
                ratio[i, j] = threshold_ratio(counts, cls_fn)
        if progress is not None:
            progress(float(mass))
    return GridStatistic(detector, cfg.name, masses, GRID_D_GEV_INV.copy(), signal, ratio,
                         n_events)


def _signal_function(detector: str, mass_gev: float, cfg: Preset, preset: str,
                     pot: dict[str, float], background: dict[str, float],
                     selection: select.Selection, *, n_events: int, seed: int,
                     data_dir: str | os.PathLike[str] | None,
                     ) -> Callable[[float], dict[str, float]] | None:
    """Signal per beam as a function of d [GeV^-1] at one mass; None if either beam's flux
    cannot produce the mass."""
    channels = []
    for beam in config.BEAMS:
        try:
            sim = generate.simulate(detector, beam, mass_gev, limit.D_REF_GEV_INV,
                                    n_events=n_events, seed=seed, preset=preset,
                                    data_dir=None if data_dir is None else str(data_dir),
                                    d_min_gev_inv=float(GRID_D_GEV_INV[0]))
        except InputError as err:
            if "too heavy" not in str(err):
                raise
            return None
        chosen = select.apply(sim.events, sim.metadata, selection,
                              data_dir=None if data_dir is None else str(data_dir))
        meta: SampleMetadata = {**sim.metadata, "efficiency": chosen.efficiency}
        channels.append(limit._channel(beam, pot[beam], chosen.events, meta, background[beam]))
    return limit.signal_function(channels, mass_gev, cfg)


__all__ = ["GRID_D_GEV_INV", "GRID_MASSES_GEV", "GRID_MU_TR_GEV_INV", "LATTICE_POINTS",
           "GridStatistic", "grid_contour", "grid_statistic", "lower_edge", "threshold_ratio"]
