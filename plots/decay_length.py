"""Fig. 3 of arXiv:2412.15051: the median lab-frame decay length over the (m_N, d_muN) plane.

Draws (:func:`plot`) two :class:`t2khnl.figure_data.DecayLengthMap`: the simulated median
(the ND280 2019 scan's samples, :func:`t2khnl.figure_data.scan_medians`, or a dedicated
simulation, :func:`t2khnl.figure_data.simulate_medians`) and the analytic βγcτ
(:func:`t2khnl.figure_data.analytic_map`; the physics of both is told there). The colour is
the simulated median, interpolated in log between the scanned masses (marked along the top)
and blank outside them; contours at 0.1-1000 m are drawn and labelled for both the
simulation (dashed orange) and the analytic βγcτ (solid black, over the whole mass range),
the lines broken under their labels; the legend states the energy convention of the
analytic lines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from t2khnl.errors import InputError
from t2khnl.figure_data import DecayLengthMap
from t2khnl.plots.style import COLUMN_WIDTH_IN, FONT, corner_label, save, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "LEVELS_M",
    "plot",
    "save",
    "style",
]

logger = logging.getLogger(__name__)

LEVELS_M: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)
"""Default contour levels [m]."""
_SIMULATION_COLOR = "#E8590C"


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
    simulated: DecayLengthMap,
    analytic: DecayLengthMap,
    *,
    preset: str = "corrected",
    analytic_levels_m: Sequence[float] = LEVELS_M,
    beam: str = "fhc",
    demo: str | None = None,
) -> Figure:
    """Draw Fig. 3: the simulated median decay length with analytic and simulated contours.

    The colour is the simulated median, interpolated (in log) between the scanned masses
    and left blank outside them; the scanned masses are marked along the top. Contours at
    ``analytic_levels_m`` are drawn and labelled for both the simulated median (dashed) and
    the analytic βγcτ (solid; :func:`t2khnl.figure_data.analytic_map`, βγ at the median
    neutrino energy of flux × σ_coh on O16, E_N ≈ E_ν), drawn over its whole mass range.

    Args:
        simulated: the simulated medians (increasing masses and couplings; a mass with NaN
            medians, i.e. no events, is left out).
        analytic: the analytic βγcτ (:func:`t2khnl.figure_data.analytic_map`).
        preset: the preset (its width convention made the analytic map), for the legend.
        analytic_levels_m: contour levels [m] of both sets of lines.
        beam: flux of the maps, for the legend.
        demo: the demo statement of a coarse run (:func:`t2khnl.plots.style.demo_text`).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    from t2khnl.plots.constraints import MASS_RANGE_MEV
    from t2khnl.plots.layout import clear_under

    masses = np.asarray(simulated.masses_gev, dtype=float)
    d = np.asarray(simulated.d_gev_inv, dtype=float)
    median = np.asarray(simulated.median_m, dtype=float)
    if median.shape != (masses.size, d.size):
        msg = f"median_m has shape {median.shape}, expected {(masses.size, d.size)}"
        raise InputError(msg)
    if np.any(np.diff(masses) <= 0) or np.any(np.diff(d) <= 0) or not np.any(
            np.isfinite(median)):
        msg = "masses and couplings must increase and some medians must be finite"
        raise InputError(msg)
    scanned = np.all(np.isfinite(median) & (median > 0), axis=1)
    masses_mev, median = masses[scanned] * 1e3, median[scanned]
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
        ana, ana_texts = _labelled_contours(ax, analytic.masses_gev * 1e3, analytic.d_gev_inv,
                                            analytic.median_m, analytic_levels_m, 0.7,
                                            colors="black", linestyles="-")
        for text in sim_texts:
            text.set(color=_SIMULATION_COLOR)
        boxes = [t.get_window_extent() for t in sim_texts + ana_texts]
        for lines in (sim, ana):
            if lines is not None:
                clear_under(lines, boxes)
    return fig
