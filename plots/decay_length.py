"""Fig. 3 of arXiv:2412.15051: the median lab-frame decay length over the (m_N, d_muN) plane.

Simulated map: one :func:`t2khnl.generate.simulate` sample per mass, at a reference coupling
d0, gives each HNL's lab decay length L0 = βγ cτ(d0) (branch ``decay_length_m`` [m]) and its
production weight (``upscatter_weight`` [1/POT]). cτ ∝ 1/d² and the HNL momentum spectrum
does not depend on d, so L(d) = L0 (d0/d)² and the median at every d of a grid is the
weighted median at d0 times (d0/d)² (:func:`median_decay_length`). The median runs over the
upscatters the simulation keeps, i.e. those whose HNL line crosses a fiducial box, from the
injection volume in front of the boxes (up to 280 m of rock), weighted per POT.

:func:`simulate_medians` runs that small dedicated simulation per mass;
:func:`medians_from_scan` reads the same median of a mass scan's own samples, which
:func:`t2khnl.limit.run` records for every mass (``t2khnl reproduce`` draws Fig. 3 from the
ND280 2019 scan).

Analytic contours (:func:`analytic_decay_length_m`): L = βγ cτ, with cτ from
:func:`t2khnl.model.ctau_m` in the preset's width convention and βγ = p_N/m_N at the median
neutrino energy of flux × σ_coh(E) (the T2K ND280 flux as SIREN interpolates it, DarkNews's
coherent cross section on O16, the main nucleus of the rock (SiO2) and of the water
targets), with p_N = sqrt(E_ν² - m_N²): coherent upscattering leaves the nucleus little
energy (T = Q²/2M ≲ 1 MeV), so E_N ≈ E_ν. This misses the mix of nuclei (the median boost
on Pb208 is ~40% above O16's at 200 MeV, Si28's 3% above) and the geometric acceptance of
the boxes: on samples of a few hundred events at 50, 200 and 500 MeV (both detectors) the
simulated medians came out 0.82-1.09 times the analytic ones.

Drawing (:func:`plot`): the colour is the simulated median, interpolated in log between the
scanned masses (marked along the top) and blank outside them; contours at 0.1-1000 m are
drawn and labelled for both the simulation (dashed orange) and the analytic βγcτ (solid
black, over the whole mass range), the lines broken under their labels; the legend states
the energy convention of the analytic lines.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import awkward as ak
import numpy as np
import numpy.typing as npt

from t2khnl import config, model
from t2khnl.errors import InputError
from t2khnl.plots.style import COLUMN_WIDTH_IN, FONT, corner_label, save, style
from t2khnl.reweight import median_decay_length_m, weighted_median

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ANALYTIC_TARGET_PDG",
    "D_REF_GEV_INV",
    "LEVELS_M",
    "analytic_decay_length_m",
    "median_boost",
    "median_decay_length",
    "medians_from_scan",
    "plot",
    "save",
    "simulate_medians",
    "style",
    "weighted_median",
]

logger = logging.getLogger(__name__)

D_REF_GEV_INV = 1.0e-6
"""Coupling [GeV^-1] the dedicated samples are simulated at (any value gives the same map)."""
ANALYTIC_TARGET_PDG = 1000080160
"""Nucleus (O16) of the cross section that weights the analytic boost."""
LEVELS_M: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
"""Default contour levels [m]."""
_N_ENERGIES = 4000
_SIMULATION_COLOR = "#E8590C"


def median_decay_length(
    events: ak.Array, d_ref_gev_inv: float, d_grid_gev_inv: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Median lab decay length [m] at each coupling of a grid, from one sample.

    Args:
        events: records with ``decay_length_m`` [m] at ``d_ref_gev_inv`` and
            ``upscatter_weight`` [1/POT] (the median's weights).
        d_ref_gev_inv: coupling the sample was simulated at [GeV^-1].
        d_grid_gev_inv: couplings [GeV^-1].

    Returns:
        The weighted median of ``decay_length_m`` times (d_ref/d)², shape of the grid.
    """
    return _at_couplings(median_decay_length_m(events), d_ref_gev_inv, d_grid_gev_inv)


def _at_couplings(median_m: float, d_ref_gev_inv: float,
                  d_grid_gev_inv: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A median decay length [m] at d_ref [GeV^-1] at each coupling of a grid: L ∝ d^-2."""
    d = np.asarray(d_grid_gev_inv, dtype=float)
    if not (d_ref_gev_inv > 0 and np.all(d > 0)):
        msg = "couplings must be positive"
        raise InputError(msg)
    return median_m * (d_ref_gev_inv / d) ** 2


def simulate_medians(
    masses_gev: Sequence[float],
    d_grid_gev_inv: npt.ArrayLike,
    *,
    detector: str = "nd280",
    beam: str = "fhc",
    n_events: int = 20000,
    seed: int = 1,
    preset: str = "corrected",
    data_dir: str | os.PathLike[str] | None = None,
    d_ref_gev_inv: float = D_REF_GEV_INV,
) -> npt.NDArray[np.float64]:
    """Median lab decay lengths [m] from one dedicated simulation per mass.

    Each sample is injected as far upstream as the smallest d of the grid needs, so the
    same population of upscatters serves every d.

    Args:
        masses_gev: HNL masses [GeV].
        d_grid_gev_inv: couplings [GeV^-1].
        detector: ``"nd280"`` or ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        n_events: upscatters injected per mass.
        seed: random seed.
        preset: ``"corrected"`` or ``"published"`` (width convention, geometry).
        data_dir: input-data folder (default as :func:`t2khnl.flux.verify`).
        d_ref_gev_inv: coupling of the simulation [GeV^-1].

    Returns:
        Shape (n_masses, n_d); NaN for a mass without events (logged).
    """
    from t2khnl.generate import simulate

    d = np.asarray(d_grid_gev_inv, dtype=float)
    options = {
        "n_events": n_events,
        "seed": seed,
        "preset": preset,
        "data_dir": None if data_dir is None else str(data_dir),
    }
    rows = []
    for mass in map(float, masses_gev):
        run = simulate(detector, beam, mass, d_ref_gev_inv, d_min_gev_inv=float(d.min()), **options)
        if len(run.events) == 0:
            logger.warning("no events at m_N = %g GeV: median decay length left NaN", mass)
            rows.append(np.full(d.shape, np.nan))
            continue
        rows.append(median_decay_length(run.events, d_ref_gev_inv, d))
    return np.array(rows, dtype=float).reshape(len(rows), *d.shape)


def medians_from_scan(
    scan_dir: str | os.PathLike[str], d_grid_gev_inv: npt.ArrayLike, *, beam: str = "fhc"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Median decay lengths [m] from a mass scan: the medians of its simulated samples.

    :func:`t2khnl.limit.run` records in each mass's summary the weighted median decay
    length at its reference coupling of the sample it simulated (all the upscatters it
    keeps, before any cut: what :func:`simulate_medians` computes, on the scan's events).

    Args:
        scan_dir: the scan's output folder (``masses/m*.json``).
        d_grid_gev_inv: couplings [GeV^-1].
        beam: ``"fhc"`` or ``"rhc"``.

    Returns:
        (masses [GeV], sorted; medians [m], shape (n_masses, n_d)); masses without
        simulated events (or skipped) are left out.

    Raises:
        InputError: no mass of the scan recorded a median for ``beam``.
    """
    import json

    found = []
    for path in sorted(Path(scan_dir).glob("masses/m*.json")):
        result = json.loads(path.read_text())
        medians = (result.get("summary") or {}).get("median_decay_length_m") or {}
        if medians.get(beam) is None:
            logger.info("%s: no median decay length for %s, skipped", path, beam)
            continue
        found.append((float(result["mass_gev"]),
                      _at_couplings(medians[beam], medians["d_gev_inv"], d_grid_gev_inv)))
    if not found:
        msg = f"no mass under {Path(scan_dir) / 'masses'} recorded a {beam} median decay length"
        raise InputError(msg)
    found.sort(key=lambda item: item[0])
    return np.array([m for m, _ in found]), np.array([row for _, row in found])


def median_boost(
    mass_gev: float,
    *,
    beam: str = "fhc",
    target_pdg: int = ANALYTIC_TARGET_PDG,
    data_dir: str | os.PathLike[str] | None = None,
) -> float:
    """βγ = p_N/m_N at the median neutrino energy of flux × σ_coh(E) (E_N ≈ E_ν).

    Args:
        mass_gev: HNL mass [GeV].
        beam: ``"fhc"`` or ``"rhc"`` flux.
        target_pdg: nucleus of the coherent cross section (default O16).
        data_dir: input-data folder.

    Returns:
        The median boost (dimensionless).

    Raises:
        InputError: the mass is too heavy for the flux.
    """
    from t2khnl import xsec
    from t2khnl.flux import load_beam_flux

    flux = load_beam_flux(beam, data_dir)
    table = xsec.build_tables(mass_gev, [target_pdg], channels=("coherent",))[
        (target_pdg, "coherent")
    ]
    centres = flux.energy_centers_gev
    e_lo, e_hi = max(table.threshold_gev, centres[0]), min(centres[-1], table.energies_gev[-1])
    if not e_lo < e_hi:
        msg = f"m_N = {mass_gev} GeV: no {beam.upper()} flux above the threshold {e_lo:g} GeV"
        raise InputError(msg)
    energy = np.geomspace(e_lo, e_hi, _N_ENERGIES)
    density = np.interp(energy, centres, flux.flux) * table.total(energy)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(energy))])
    e_median = float(np.interp(0.5, cdf / cdf[-1], energy))
    return float(np.sqrt(e_median**2 - mass_gev**2) / mass_gev)


def analytic_decay_length_m(
    masses_gev: npt.ArrayLike,
    d_grid_gev_inv: npt.ArrayLike,
    *,
    preset: str = "corrected",
    beam: str = "fhc",
    target_pdg: int = ANALYTIC_TARGET_PDG,
    data_dir: str | os.PathLike[str] | None = None,
) -> npt.NDArray[np.float64]:
    """Analytic median lab decay length [m]: :func:`median_boost` × cτ(m_N, d).

    Args:
        masses_gev: HNL masses [GeV].
        d_grid_gev_inv: couplings [GeV^-1].
        preset: its ``width_convention`` sets cτ.
        beam: ``"fhc"`` or ``"rhc"`` flux.
        target_pdg: nucleus of the cross section weighting the boost.
        data_dir: input-data folder.

    Returns:
        Shape (n_masses, n_d).
    """
    convention = config.load(preset).width_convention
    masses = np.atleast_1d(np.asarray(masses_gev, dtype=float))
    d = np.atleast_1d(np.asarray(d_grid_gev_inv, dtype=float))
    boost = np.array(
        [median_boost(m, beam=beam, target_pdg=target_pdg, data_dir=data_dir) for m in masses]
    )
    ctau = model.ctau_m(masses[:, None], d[None, :], convention=convention)
    return np.asarray(boost[:, None] * ctau, dtype=float)


def _log_edges(centres: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Bin edges around log-spaced centres (geometric midpoints, ends mirrored)."""
    logs = np.log10(centres)
    step = np.diff(logs) if logs.size > 1 else np.array([0.1])
    inner = 0.5 * (logs[1:] + logs[:-1])
    return 10 ** np.concatenate([[logs[0] - step[0] / 2], inner, [logs[-1] + step[-1] / 2]])


def _points_along(contours: Any, fraction: float) -> list[tuple[float, float]]:
    """For each level of a contour set, the point [data] ``fraction`` of the way along its
    longest line (measured in display pixels): where its label goes."""
    inverse = contours.axes.transData.inverted()
    points = []
    for path in contours.get_paths():
        lines = contours.get_transform().transform_path(path).to_polygons(closed_only=False)
        if not lines:
            continue
        line = max(lines, key=lambda xy: float(np.hypot(*np.diff(xy, axis=0).T).sum()))
        length = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(line, axis=0).T))])
        at = fraction * length[-1]
        xy = [np.interp(at, length, line[:, k]) for k in (0, 1)]
        points.append(tuple(inverse.transform(xy)))
    return points


def _labelled_contours(ax: Axes, x: Any, y: Any, z: Any, levels: Sequence[float],
                       fraction: float, **kwargs: Any) -> tuple[Any, list[Any]]:
    """Contours of log10 ``z`` at ``levels`` [m], each labelled "<level> m" ``fraction`` of
    the way along its line (rotated along it)."""
    log_levels = [np.log10(v) for v in levels if np.nanmin(z) < v < np.nanmax(z)]
    if not log_levels or np.size(x) < 2 or np.size(y) < 2:
        return None, []
    lines = ax.contour(x, y, np.ma.log10(np.ma.masked_invalid(z)).T, levels=log_levels,
                       linewidths=2.0, **kwargs)
    ax.figure.canvas.draw()  # type: ignore[attr-defined]  # final transforms for the labels
    texts = ax.clabel(lines, inline=False, manual=_points_along(lines, fraction),
                      fmt=lambda v: f"{10**v:g} m", fontsize=FONT.note)
    return lines, list(texts)


def plot(
    masses_gev: npt.ArrayLike,
    d_grid_gev_inv: npt.ArrayLike,
    median_m: npt.ArrayLike,
    *,
    preset: str = "corrected",
    analytic_levels_m: Sequence[float] = LEVELS_M,
    beam: str = "fhc",
    n_analytic_masses: int = 30,
    data_dir: str | os.PathLike[str] | None = None,
    demo: str | None = None,
) -> Figure:
    """Draw Fig. 3: the simulated median decay length with analytic and simulated contours.

    The colour is the simulated median, interpolated (in log) between the scanned masses
    and left blank outside them; the scanned masses are marked along the top. Contours at
    ``analytic_levels_m`` are drawn and labelled for both the simulated median (dashed) and
    the analytic βγcτ (solid; :func:`analytic_decay_length_m`, βγ at the median neutrino
    energy of flux × σ_coh on O16, E_N ≈ E_ν), which is drawn over the whole mass range.

    Args:
        masses_gev: increasing HNL masses [GeV] of the simulated map.
        d_grid_gev_inv: increasing couplings [GeV^-1].
        median_m: simulated medians [m], shape (n_masses, n_d) (NaN: no events; such masses
            are left out).
        preset: width convention of the analytic contours.
        analytic_levels_m: contour levels [m] of both sets of lines.
        beam: flux of the analytic boost.
        n_analytic_masses: log-spaced masses of the analytic curves over the plotted range.
        data_dir: input-data folder.
        demo: the demo statement of a coarse run (:func:`t2khnl.plots.style.demo_text`).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    from t2khnl.plots.constraints import MASS_RANGE_MEV
    from t2khnl.plots.layout import clear_under

    masses = np.asarray(masses_gev, dtype=float)
    d = np.asarray(d_grid_gev_inv, dtype=float)
    median = np.asarray(median_m, dtype=float)
    if median.shape != (masses.size, d.size):
        msg = f"median_m has shape {median.shape}, expected {(masses.size, d.size)}"
        raise InputError(msg)
    if np.any(np.diff(masses) <= 0) or np.any(np.diff(d) <= 0) or not np.any(
            np.isfinite(median)):
        msg = "masses and couplings must increase and some medians must be finite"
        raise InputError(msg)
    scanned = np.all(np.isfinite(median) & (median > 0), axis=1)
    masses_mev, median = masses[scanned] * 1e3, median[scanned]
    m_fine = np.geomspace(MASS_RANGE_MEV[0], MASS_RANGE_MEV[1], max(n_analytic_masses, 2)) / 1e3
    d_fine = np.geomspace(d[0], d[-1], 200)
    analytic = analytic_decay_length_m(m_fine, d_fine, preset=preset, beam=beam,
                                       data_dir=data_dir)
    with style():
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 9.5), layout="constrained")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(*MASS_RANGE_MEV)
        ax.set_ylim(d[0], d[-1])
        norm = LogNorm(vmin=float(median.min()), vmax=float(median.max()))
        if masses_mev.size > 1:  # interpolated between the scanned masses only
            mesh = ax.pcolormesh(masses_mev, d, median.T, shading="gouraud", norm=norm,
                                 cmap="viridis", rasterized=True)
        else:  # one mass: a narrow column
            edges = masses_mev[0] * np.array([0.97, 1.03])
            mesh = ax.pcolormesh(edges, _log_edges(d), median.T, norm=norm, cmap="viridis",
                                 rasterized=True)
        ax.plot(masses_mev, np.full(masses_mev.size, d[-1]), linestyle="none", marker="v",
                markersize=13, color=_SIMULATION_COLOR, markeredgecolor="black", zorder=6)
        fig.colorbar(mesh, ax=ax, label="median lab decay length [m]")
        ax.set_xlabel(r"$m_N$ [MeV]")
        ax.set_ylabel(r"$d_{\mu N}$ [GeV$^{-1}$]")
        handles = [
            Line2D([], [], color=_SIMULATION_COLOR, linestyle="--", linewidth=2,
                   label="simulation: weighted median over the upscatters reaching the "
                         "fiducial volume"),
            Line2D([], [], color=_SIMULATION_COLOR, linestyle="none", marker="v",
                   markersize=13, markeredgecolor="black",
                   label=f"the {masses_mev.size} simulated masses (colour interpolated "
                         "between them)"),
            Line2D([], [], color="black", linewidth=2,
                   label=r"analytic $\beta\gamma c\tau$, $E_N = E_\nu$ at the median of "
                         r"$\Phi_\nu(E_\nu)\,\sigma_{\rm coh}(E_\nu)$ on $^{16}$O"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=1, frameon=False,
                   fontsize=FONT.note, title_fontsize=FONT.note, alignment="left",
                   title=f"ND280 2019, {beam.upper()} flux, {preset} preset")
        fig.canvas.draw()
        fig.set_layout_engine("none")  # freeze the layout: the labels cut lines by pixels
        corner_label(ax, demo=demo)  # mplhep spaces its parts in axes coordinates
        sim, sim_texts = _labelled_contours(ax, masses_mev, d, median, analytic_levels_m, 0.3,
                                            colors=_SIMULATION_COLOR, linestyles="--")
        ana, ana_texts = _labelled_contours(ax, m_fine * 1e3, d_fine, analytic,
                                            analytic_levels_m, 0.7, colors="black",
                                            linestyles="-")
        for text in sim_texts:
            text.set(color=_SIMULATION_COLOR)
        boxes = [t.get_window_extent() for t in sim_texts + ana_texts]
        for lines in (sim, ana):
            if lines is not None:
                clear_under(lines, boxes)
    return fig
