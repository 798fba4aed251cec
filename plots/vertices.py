"""Fig. 2 of arXiv:2412.15051: where the upscatters whose HNL decays in a TPC come from.

:func:`plot` draws weighted 2D histograms (:func:`histogram`) of the upscattering vertex,
z–x and z–y [m], for a few HNL masses at d = 3.87e-7 GeV^-1, in ND280 (2019) and its
upgrade, over the detector's outline (:func:`detector_boxes`) and its fiducial boxes. The
colour is the expected number of HNL decays inside the fiducial volumes per m² (``weight``
x the preset's nominal exposure, before BR(ee), cuts and efficiency), on a log scale; the
axes are symmetric-log (z in [-300, 4] m, x and y in [-50, 50] m). The samples come from
:func:`t2khnl.figure_data.simulate_vertex_samples`; this module only draws.

Details: plots/README.md ("Fig. 2").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import awkward as ak
import numpy as np
import numpy.typing as npt

from t2khnl.errors import InputError
from t2khnl.figure_data import VertexSamples
from t2khnl.plots.style import FONT, PAGE_WIDTH_IN, corner_label, save, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DetectorBox",
    "VertexMap",
    "detector_boxes",
    "histogram",
    "plot",
    "save",
    "style",
]

logger = logging.getLogger(__name__)

Z_RANGE_M: tuple[float, float] = (-300.0, 4.0)
"""Default z window [m]."""
TRANSVERSE_RANGE_M: tuple[float, float] = (-50.0, 50.0)
"""Default x and y window [m]."""
_Z_LINEAR_M = 4.0
_TRANSVERSE_LINEAR_M = 3.0
_LINEAR_BIN_M = 0.2
_BINS_PER_DECADE = 8
_DYNAMIC_RANGE = 1.0e6
_MERGE_GAP_M = 0.05
_Z_TICKS_M = (-100, -10, -2, 0, 2, 4)
_TRANSVERSE_TICKS_M = (-30, -10, -3, 0, 3, 10, 30)
_REGION_STYLE: dict[str, tuple[str, str]] = {
    "magnet": ("UA1 magnet", "0.45"),
    "p0d": ("P0D", "#E69F00"),
    "superfgd": ("SuperFGD", "#CC79A7"),
    "fgd": ("FGD", "black"),
    "tpc_gas": ("TPC gas", "#56B4E9"),
}
_DETECTOR_LABELS = {"nd280": "ND280 (2019)", "upgrade": "ND280 upgrade"}


class DetectorBox(NamedTuple):
    """Bounding box of touching sectors of one region: centre and full widths [m]."""

    region: str
    centre: npt.NDArray[np.float64]
    widths: npt.NDArray[np.float64]


class VertexMap(NamedTuple):
    """A weighted vertex histogram in the (z, transverse) plane; weights in 1/POT.

    Attributes:
        z_edges_m: z bin edges [m].
        transverse_edges_m: x or y bin edges [m].
        weights: summed event ``weight`` per bin [1/POT], shape (n_z, n_transverse).
        outside: weight of the vertices outside the window [1/POT].
        rock: weight of the vertices in the rock [1/POT].
        total: weight of all vertices [1/POT].
    """

    z_edges_m: npt.NDArray[np.float64]
    transverse_edges_m: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    outside: float
    rock: float
    total: float


def _symlog_edges(window_m: tuple[float, float], linear_m: float) -> npt.NDArray[np.float64]:
    """Bin edges [m]: 0.2 m steps for |u| < ``linear_m``, 1/8 decade beyond."""
    lo, hi = window_m
    if not lo < hi:
        msg = f"window must be increasing, got {window_m}"
        raise InputError(msg)

    def decades(a: float, b: float) -> npt.NDArray[np.float64]:
        return np.geomspace(a, b, max(1, math.ceil(_BINS_PER_DECADE * math.log10(b / a))) + 1)

    parts = [-decades(linear_m, -lo)] if lo < -linear_m else []
    a, b = max(lo, -linear_m), min(hi, linear_m)
    if a < b:
        parts.append(np.linspace(a, b, max(1, math.ceil((b - a) / _LINEAR_BIN_M)) + 1))
    if hi > linear_m:
        parts.append(decades(linear_m, hi))
    return np.unique(np.concatenate(parts))


def histogram(
    events: ak.Array,
    axis: str = "x",
    *,
    z_range_m: tuple[float, float] = Z_RANGE_M,
    transverse_range_m: tuple[float, float] = TRANSVERSE_RANGE_M,
) -> VertexMap:
    """Histogram the upscattering vertices of ``events`` weighted by ``weight`` [1/POT].

    Args:
        events: records with ``vtx_x``, ``vtx_y``, ``vtx_z`` [m], ``weight`` [1/POT] and
            ``region_id`` (index into :data:`t2khnl.geometry.REGIONS`).
        axis: transverse coordinate, ``"x"`` or ``"y"``.
        z_range_m: z window [m]; vertices outside either window count in ``outside``.
        transverse_range_m: x or y window [m].

    The bins are 0.2 m wide for |z| < 4 m and |x|, |y| < 3 m and 1/8 decade beyond.

    Returns:
        The histogram; ``weights.sum() + outside == total``.
    """
    from t2khnl.geometry import REGIONS

    if axis not in ("x", "y"):
        msg = f"transverse axis must be 'x' or 'y', got {axis!r}"
        raise InputError(msg)
    z_edges = _symlog_edges(z_range_m, _Z_LINEAR_M)
    t_edges = _symlog_edges(transverse_range_m, _TRANSVERSE_LINEAR_M)
    z = ak.to_numpy(events["vtx_z"]).astype(float)
    t = ak.to_numpy(events[f"vtx_{axis}"]).astype(float)
    w = ak.to_numpy(events["weight"]).astype(float)
    rock = ak.to_numpy(events["region_id"]) == REGIONS.index("rock")
    inside = (z >= z_edges[0]) & (z <= z_edges[-1]) & (t >= t_edges[0]) & (t <= t_edges[-1])
    counts, _, _ = np.histogram2d(z[inside], t[inside], bins=(z_edges, t_edges),  # type: ignore[arg-type]
                                  weights=w[inside])  # (numpy 1.26's stub omits edge arrays)
    return VertexMap(
        z_edges, t_edges, counts, float(w[~inside].sum()), float(w[rock].sum()), float(w.sum())
    )


def _merge_boxes(
    boxes: list[list[npt.NDArray[np.float64]]],
) -> list[list[npt.NDArray[np.float64]]]:
    """Merge (low corner, high corner) boxes [m] that overlap or lie within 5 cm."""
    while True:
        clusters: list[list[npt.NDArray[np.float64]]] = []
        for lo, hi in boxes:
            for cluster in clusters:
                if np.all(np.maximum(lo, cluster[0]) - np.minimum(hi, cluster[1]) <= _MERGE_GAP_M):
                    cluster[0], cluster[1] = np.minimum(lo, cluster[0]), np.maximum(hi, cluster[1])
                    break
            else:
                clusters.append([lo, hi])
        if len(clusters) == len(boxes):
            return clusters
        boxes = clusters


def detector_boxes(
    geometry: Any, regions: Sequence[str] = tuple(_REGION_STYLE)
) -> list[DetectorBox]:
    """Outline of the sub-detectors: box sectors of each region merged where they touch.

    Sectors of a region whose boxes overlap or lie within 5 cm of each other are merged
    into their bounding box (the ~100 P0D layers become one box, the two FGDs stay two).

    Args:
        geometry: a :class:`t2khnl.geometry.DetectorGeometry`.
        regions: region names to outline (see :data:`t2khnl.geometry.REGIONS`).

    Returns:
        The merged boxes, in the order of ``regions``.
    """
    out: list[DetectorBox] = []
    for region in regions:
        boxes = []
        for name in dict.fromkeys(geometry.sector_names):
            if name == "UNIVERSE" or geometry.region_of(name) != region:
                continue
            centre, widths = geometry.sector_box(name)
            boxes.append([centre - widths / 2, centre + widths / 2])
        boxes = _merge_boxes(boxes)
        out.extend(DetectorBox(region, (lo + hi) / 2, hi - lo) for lo, hi in boxes)
    return out


def _draw_outline(ax: Axes, geometry: Any, axis: str, drawn: set[str]) -> None:
    """Rectangles of the sub-detectors and (dashed red) the fiducial boxes, in z–``axis``,
    each on a white halo so that it stays visible on any colour.

    Each label in ``drawn`` is already in the legend; the others are added to it.
    """
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle

    halo = [patheffects.withStroke(linewidth=4.5, foreground="white")]
    k = "xyz".index(axis)
    outlines = [
        (b.centre, b.widths, *_REGION_STYLE[b.region], "-") for b in detector_boxes(geometry)
    ]
    outlines += [(f.centre, f.widths, "fiducial volume", "red", "--") for f in geometry.fiducial]
    for centre, widths, label, color, linestyle in outlines:
        lo = centre - widths / 2
        shown = None if label in drawn else label
        rect = Rectangle((lo[2], lo[k]), widths[2], widths[k], fill=False, label=shown,
                         zorder=3)
        ax.add_patch(rect)
        rect.set(edgecolor=color, linestyle=linestyle, linewidth=2.0, path_effects=halo)
        drawn.add(label)


def _symlog_axis(ax: Axes, which: str, linear_m: float, ticks: Sequence[float], edges: Any,
                 linscale: float) -> None:
    """Symmetric-log ``which`` axis, linear for |u| < ``linear_m`` (marked by dotted lines;
    that part as long as ``linscale`` decades), plain tick labels [m]."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, SymmetricalLogLocator

    getattr(ax, f"set_{which}scale")("symlog", linthresh=linear_m, linscale=linscale)
    axis = getattr(ax, f"{which}axis")
    axis.set_major_locator(FixedLocator([t for t in ticks if edges[0] <= t <= edges[-1]]))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(SymmetricalLogLocator(linthresh=linear_m, base=10,
                                                 subs=[2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]))
    line = ax.axvline if which == "x" else ax.axhline
    for edge in (-linear_m, linear_m):
        if edges[0] < edge < edges[-1]:
            line(edge, color="0.35", linestyle=":", linewidth=1.2, zorder=2)


def _density(vmap: VertexMap, pot: float) -> Any:
    """Expected decays per m² of the plane in each bin: weights [1/POT] × ``pot`` / area."""
    area = np.outer(np.diff(vmap.z_edges_m), np.diff(vmap.transverse_edges_m))
    return np.ma.masked_less_equal((vmap.weights * pot / area).T, 0.0)


def _draw_panel(ax: Axes, vmap: VertexMap, pot: float, norm: Any) -> Any:
    """One vertex map [expected decays / m²] on symlog axes."""
    mesh = ax.pcolormesh(vmap.z_edges_m, vmap.transverse_edges_m, _density(vmap, pot),
                         norm=norm, cmap="viridis", rasterized=True)
    # z: the detector's 8 m get as much room as the 1.9 decades of rock upstream
    _symlog_axis(ax, "x", _Z_LINEAR_M, _Z_TICKS_M, vmap.z_edges_m, 1.5)
    _symlog_axis(ax, "y", _TRANSVERSE_LINEAR_M, _TRANSVERSE_TICKS_M, vmap.transverse_edges_m,
                 1.0)
    ax.set_xlim(vmap.z_edges_m[0], vmap.z_edges_m[-1])
    ax.set_ylim(vmap.transverse_edges_m[0], vmap.transverse_edges_m[-1])
    return mesh


def _note(vmap: VertexMap, mass_gev: float) -> str:
    """A panel's note: the mass, the rock's share and the share beyond the axes."""
    head = f"$m_N$ = {mass_gev * 1e3:g} MeV"
    if vmap.total <= 0:
        return f"{head}\nno events"
    return (f"{head}\nrock {vmap.rock / vmap.total:.0%}\n"
            f"beyond axes {vmap.outside / vmap.total:.1%}")


def _caption(beam: str, pot: Mapping[str, float]) -> str:
    """What the colour, the axes and the panel notes mean (the legend's title)."""
    exposure = ", ".join(f"{_DETECTOR_LABELS[det]} {value:.3g} POT" for det, value in pot.items())
    return (
        f"Colour: expected HNL decays in the fiducial volumes per m$^2$ of the plane, by "
        f"upscattering vertex, summed over the third coordinate ({beam.upper()}: "
        f"{exposure}).\n"
        f"Axes: linear within the dotted lines (|z| < {_Z_LINEAR_M:g} m, |x|, |y| < "
        f"{_TRANSVERSE_LINEAR_M:g} m), logarithmic beyond.  rock: share of the decays from "
        f"upscatters in the rock; beyond axes: share from vertices outside the plotted "
        f"window."
    )


def plot(
    data: VertexSamples,
    *,
    z_range_m: tuple[float, float] = Z_RANGE_M,
    transverse_range_m: tuple[float, float] = TRANSVERSE_RANGE_M,
    demo: str | None = None,
) -> Figure:
    """Draw Fig. 2: rows are detector × (z–x, z–y), columns the masses.

    Args:
        data: the samples (:func:`t2khnl.figure_data.simulate_vertex_samples`) with their
            coupling and preset (for the label), beam and nominal exposure [POT] (turns the
            weights [1/POT] into expected decays) and geometry (the outlines drawn).
        z_range_m: z window [m] (symlog axis, linear for |z| < 4 m).
        transverse_range_m: x and y window [m] (symlog, linear for |x|, |y| < 3 m).
        demo: the demo statement of a coarse run (:func:`t2khnl.plots.style.demo_text`).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from t2khnl.geometry import load
    from t2khnl.plots.layout import FreeSpace

    samples, pot = data.events, data.exposure_pot
    rows = [(det, axis) for det in samples for axis in ("x", "y")]
    n_cols = max((len(v) for v in samples.values()), default=0)
    if not rows or n_cols == 0:
        msg = "no samples to plot"
        raise InputError(msg)
    maps = {
        (det, axis, i): histogram(
            events, axis, z_range_m=z_range_m, transverse_range_m=transverse_range_m
        )
        for det, axis in rows
        for i, (_, events) in enumerate(samples[det])
    }
    vmax = max(float(_density(m, pot[k[0]]).max() or 0.0) for k, m in maps.items()) or 1.0
    norm = LogNorm(vmin=vmax / _DYNAMIC_RANGE, vmax=vmax)
    with style():
        size = (PAGE_WIDTH_IN, 4.2 * len(rows) + 3.0)
        fig, axes = plt.subplots(
            len(rows), n_cols, figsize=size, squeeze=False, sharex=True, layout="constrained"
        )
        drawn: set[str] = set()
        notes = []
        for r, (det, axis) in enumerate(rows):
            geometry = load(*data.geometry[det])
            for c, ax in enumerate(axes[r]):
                if c >= len(samples[det]):
                    ax.set_visible(False)
                    continue
                vmap = maps[(det, axis, c)]
                mesh = _draw_panel(ax, vmap, pot[det], norm)
                _draw_outline(ax, geometry, axis, drawn)
                ax.set_ylabel(f"{_DETECTOR_LABELS[det]}\n{axis} [m]")
                notes.append((ax, _note(vmap, samples[det][c][0])))
        for ax in axes[-1]:
            ax.set_xlabel("z [m]")
        fig.colorbar(mesh, ax=axes, label="expected decays [m$^{-2}$]")
        fig.legend(loc="outside lower center", ncols=6, frameon=False, fontsize=FONT.legend,
                   title=_caption(data.beam, pot), title_fontsize=FONT.note)
        fig.canvas.draw()
        fig.set_layout_engine("none")  # freeze the layout: the notes go by display pixels
        # mplhep spaces its label's parts in axes coordinates: after the layout is final
        corner_label(axes[0][0], demo=demo)
        corner_label(axes[0][-1], left=False,
                     rlabel=rf"$d_{{\mu N}}$ = {data.d_gev_inv:.3g} GeV$^{{-1}}$, {data.preset}")
        for ax, text in notes:
            box = ax.get_window_extent()  # wanted: top right, above the detector
            label = ax.text(0, 0, text, ha="center", va="center", fontsize=FONT.note,
                            linespacing=1.15, zorder=6,
                            bbox={"facecolor": "white", "alpha": 0.85, "lw": 0, "pad": 2})
            FreeSpace(ax).place(label, [[box.x1, box.y1]])
    return fig
