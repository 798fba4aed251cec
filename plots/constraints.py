"""Fig. 4 of arXiv:2412.15051: the (m_N, d_muN) plane with our ND280 results.

On log axes m_N [MeV] versus d_muN [GeV^-1], :func:`plot` draws our contours
(:class:`t2khnl.scanstore.Contour` or the scan's ``contour.csv``) in one strong colour
(:data:`OURS_COLOR`: constraints filled, sensitivities dashed, MC error bands), the
MiniBooNE-preferred 95% CL regions (:mod:`t2khnl.constraints_data`) and the existing limits,
converted to our d convention and 95% CL and named beside their outlines.
:func:`plot_presets` draws one panel per preset side by side on shared axes.

Details: plots/README.md ("Fig. 4").
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from t2khnl.constraints_data import Limit, load_existing_limits, miniboone_regions
from t2khnl.errors import InputError
from t2khnl.plots.layout import FreeSpace
from t2khnl.plots.style import COLUMN_WIDTH_IN, FONT, PAGE_WIDTH_IN, corner_label, save, style
from t2khnl.scanstore import Contour, read_contour

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "D_RANGE",
    "MASS_RANGE_MEV",
    "OURS_COLOR",
    "ContourSource",
    "log_log_axes",
    "plot",
    "plot_presets",
    "save",
    "style",
]

logger = logging.getLogger(__name__)

MASS_RANGE_MEV: tuple[float, float] = (10.0, 2000.0)
"""Default x range [MeV]."""
D_RANGE: tuple[float, float] = (1.0e-8, 1.0e-4)
"""Default y range [GeV^-1]."""

_MINIBOONE_COLORS = ("#F9B859", "#3B8BC2")

_SENSITIVITY_WORDS = ("upgrade", "upgrd", "sensitivity", "t2k-ii", "t2k+t2k-ii", "projected")

ContourSource = Contour | str | os.PathLike[str]
"""A contour to draw: read already, or a ``contour.csv`` file (or a scan folder)."""


# --------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------
OURS_COLOR = "#0A4FA6"
"""The one strong colour of our results: ND280 2019 filled, T2K + T2K-II dashed."""
_EXISTING_FILL = "#E4E4E4"
_MINIBOONE_STYLE: tuple[dict[str, Any], ...] = (
    {"facecolor": "#F5C267", "edgecolor": "#A86B00", "hatch": None},
    {"facecolor": "none", "edgecolor": "#B0307E", "hatch": "\\\\\\"},
)
_HOLE_NOTE = "not excluded:\nrock-fed (below) and\ngas-fed (above)\nexclusions do not meet"
_LEADER_PX = 220.0


def _segments(valid: npt.NDArray[np.bool_]) -> list[slice]:
    """Contiguous runs of True."""
    out, start = [], None
    for i, flag in enumerate(valid):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            out.append(slice(start, i))
            start = None
    if start is not None:
        out.append(slice(start, len(valid)))
    return out


def _is_sensitivity(label: str) -> bool:
    low = label.lower().replace(" ", "")
    return any(word.replace(" ", "") in low for word in _SENSITIVITY_WORDS)


def _band_path(
    mass: npt.NDArray[np.float64], low: npt.NDArray[np.float64], high: npt.NDArray[np.float64],
    holes: list[tuple[int, float, float]],
) -> Any:
    """The band ``low``..``high`` [GeV^-1] over ``mass`` [MeV] as a matplotlib ``Path``, with
    each run of holes (index into ``mass``, lower, upper end) at consecutive masses cut out:
    a lens through the holes' ends that closes, inside the band, at the neighbouring masses
    (at the geometric mean of the nearest hole's ends, clipped to the neighbour's band)."""
    from matplotlib.path import Path as MplPath

    parts = [np.column_stack([np.r_[mass, mass[::-1]], np.r_[low, high[::-1]]])]
    for run in _hole_runs(holes):
        tips = []
        for (i, lo, hi), j in ((run[0], run[0][0] - 1), (run[-1], run[-1][0] + 1)):
            k = j if 0 <= j < mass.size else i
            tips.append((mass[k], float(np.clip(math.sqrt(lo * hi), low[k], high[k]))))
        lens = [tips[0], *((mass[i], lo) for i, lo, _ in run), tips[1],
                *((mass[i], hi) for i, _, hi in reversed(run))]
        parts.append(np.array(lens)[::-1])  # opposite winding: a hole under the nonzero rule
    vertices, codes = [], []
    for part in parts:
        vertices.extend([*part, part[0]])
        codes.extend([MplPath.MOVETO] + [MplPath.LINETO] * (len(part) - 1) + [MplPath.CLOSEPOLY])
    return MplPath(np.array(vertices, dtype=float), codes)


def _hole_runs(
    holes: Iterable[tuple[int, float, float]],
) -> list[list[tuple[int, float, float]]]:
    """Holes (mass index, lower, upper end) grouped into runs at consecutive masses."""
    runs: list[list[tuple[int, float, float]]] = []
    for hole in sorted(holes):
        if runs and hole[0] == runs[-1][-1][0] + 1:
            runs[-1].append(hole)
        else:
            runs.append([hole])
    return runs


@dataclass(frozen=True)
class _Hole:
    """Where a contour's hole is: its masses [MeV] and its ends [GeV^-1]."""

    mass_mev: npt.NDArray[np.float64]
    d_low: npt.NDArray[np.float64]
    d_high: npt.NDArray[np.float64]


def _draw_contour(
    ax: Axes, label: str, contour: Contour, dashed: bool, d_top: float
) -> tuple[Artist, list[_Hole]]:
    """Draw one contour: a filled band (a dashed outline if ``dashed``) with its holes left
    open, an isolated excluded mass as a vertical bar; MC error bands on the edges.

    Every artist has ``gid`` "contour:<label>".

    Returns:
        The contour's legend handle (labelled ``label``) and the holes drawn (for their
        annotation).
    """
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    low, high = contour.d_low.copy(), contour.d_high.copy()
    # a lower edge without an upper one: excluded up to the top of the plot
    high = np.where(np.isfinite(low) & ~np.isfinite(high), d_top, high)
    valid = np.isfinite(low) & np.isfinite(high) & (low > 0) & (high > low)
    edge: dict[str, Any] = {"color": OURS_COLOR, "linestyle": "--" if dashed else "-",
                            "linewidth": 2.5, "gid": f"contour:{label}", "zorder": 5}
    holes: list[_Hole] = []
    segments = _segments(valid)
    for seg in segments:
        m = contour.mass_mev[seg]
        if m.size == 1:  # one excluded mass between masses that exclude nothing
            ax.plot([m[0], m[0]], [low[seg][0], high[seg][0]], marker="_", markersize=14,
                    solid_capstyle="butt", **edge)
            continue
        seg_holes = [(i - seg.start, lo, hi) for i, lo, hi in contour.holes
                     if seg.start <= i < seg.stop]
        path = _band_path(m, low[seg], high[seg], seg_holes)
        if not dashed:  # the fill under the MiniBooNE regions, the outline above them
            ax.add_patch(PathPatch(path, facecolor=to_rgba(OURS_COLOR, 0.3), edgecolor="none",
                                   gid=edge["gid"], zorder=3))
        ax.add_patch(PathPatch(path, facecolor="none", edgecolor=edge["color"],
                               linestyle=edge["linestyle"], linewidth=edge["linewidth"],
                               gid=edge["gid"], zorder=edge["zorder"]))
        holes += [_Hole(m[[i for i, _, _ in run]], np.array([lo for _, lo, _ in run]),
                        np.array([hi for _, _, hi in run])) for run in _hole_runs(seg_holes)]
        for d_edge, err in ((low, contour.d_low_err), (high, contour.d_high_err)):
            e, s = d_edge[seg], err[seg]
            ok = np.isfinite(s) & np.isfinite(e)
            if np.any(ok):
                ax.fill_between(m, np.clip(e - s, e * 1e-3, None), e + s, where=ok,
                                color=OURS_COLOR, alpha=0.25, linewidth=0, zorder=4)
    if not segments:
        logger.warning("contour %r excludes nothing: drawn as a legend entry only", label)
    handle: Artist = (
        Line2D([], [], color=OURS_COLOR, linestyle="--", linewidth=2.5, label=label) if dashed
        else Patch(facecolor=to_rgba(OURS_COLOR, 0.3), edgecolor=OURS_COLOR, linewidth=2.5,
                   label=label))
    return handle, holes


def _limit_path(limit: Limit, d_top: float) -> Any:
    """A limit's excluded region [MeV, GeV^-1] as a closed ``Path`` (a lower curve is closed
    along a line far above ``d_top``)."""
    from matplotlib.path import Path as MplPath

    if limit.shape == "polygon":
        return MplPath(np.column_stack([limit.mass_mev, limit.d]), closed=False)
    top = max(d_top, float(np.max(limit.d))) * 10
    return MplPath(np.column_stack([
        np.concatenate([limit.mass_mev, [limit.mass_mev[-1], limit.mass_mev[0]]]),
        np.concatenate([limit.d, [top, top]])]))


def _boundaries(limit: Limit) -> tuple[npt.NDArray[np.float64], ...]:
    """The drawn parts of a limit's outline [MeV, GeV^-1]: :attr:`Limit.outline`, else the
    lower curve itself (not the lines closing it at the top) or the closed polygon."""
    if limit.outline:
        return limit.outline
    xy = np.column_stack([limit.mass_mev, limit.d])
    return (xy,) if limit.shape != "polygon" else (np.vstack([xy, xy[:1]]),)


def _draw_limits(ax: Axes, limits: Sequence[Limit], d_top: float) -> None:
    """Existing limits: one light grey for all their areas, each boundary in its muted tone
    (a digitised plot's edge or the closure of a lower curve is not drawn)."""
    from matplotlib.patches import PathPatch

    for limit in limits:
        ax.add_patch(PathPatch(_limit_path(limit, d_top), facecolor=_EXISTING_FILL,
                               edgecolor="none", zorder=1))
    for limit in limits:
        for part in _boundaries(limit):
            ax.plot(part[:, 0], part[:, 1], color=limit.color, linewidth=1.5, zorder=2,
                    gid=f"limit:{limit.name}")


def _draw_miniboone(ax: Axes, regions: Mapping[str, list[npt.NDArray[np.float64]]]) -> None:
    """The MiniBooNE-preferred regions, each in its own style, above our fills."""
    from matplotlib.patches import Polygon

    for (label, polys), look in zip(regions.items(), _MINIBOONE_STYLE, strict=False):
        for k, poly in enumerate(polys):
            ax.add_patch(Polygon(poly, closed=True, linewidth=1.5, zorder=4.5,
                                 label=label if k == 0 else None, gid=f"miniboone:{label}",
                                 **look))


def _y_range(contours: Iterable[Contour],
             regions: Mapping[str, list[npt.NDArray[np.float64]]]) -> tuple[float, float]:
    """The d range [GeV^-1] of what is drawn (our edges, MiniBooNE), out to half decades."""
    values = [c.d_low for c in contours] + [c.d_high for c in contours]
    values += [poly[:, 1] for polys in regions.values() for poly in polys]
    flat = np.concatenate([np.ravel(v) for v in values]) if values else np.array([])
    flat = flat[np.isfinite(flat) & (flat > 0)]
    if flat.size == 0:
        return D_RANGE
    lo = 10 ** (math.floor(2 * math.log10(flat.min() / 1.2)) / 2)
    hi = 10 ** (math.ceil(2 * math.log10(flat.max())) / 2)
    return lo, max(hi, lo * 100)


def _label_limits(ax: Axes, space: FreeSpace, limits: Sequence[Limit], d_top: float) -> None:
    """Name each existing limit inside its area next to its outline, or, where its visible
    area is too small, just outside with a leader line."""
    from t2khnl.plots.layout import curve_points

    box = ax.get_window_extent()
    for limit in limits:
        outline = [a for a in ax.lines if a.get_gid() == f"limit:{limit.name}"]
        edge = curve_points(ax, outline)
        if not len(edge):
            continue  # outside the plotted range
        region = ax.transData.transform_path(_limit_path(limit, d_top))
        text = ax.text(0, 0, limit.label, color=limit.color, fontsize=FONT.note, ha="center",
                       va="center", zorder=6, gid=f"limit-label:{limit.name}")
        if space.place(text, edge, inside=region):
            continue
        text.set_visible(True)
        inner = edge[(edge[:, 0] > box.x0 + 2) & (edge[:, 1] > box.y0 + 2)]
        if space.place(text, inner if len(inner) else edge, max_distance_px=_LEADER_PX):
            target = inner[len(inner) // 2] if len(inner) else edge[len(edge) // 2]
            _leader(ax, text, target)
        else:
            logger.warning("no room to name the %s limit in Fig. 4", limit.name)


def _leader(ax: Axes, text: Any, target_px: npt.NDArray[np.float64], *,
            color: str | None = None) -> None:
    """Turn a placed text into an annotation pointing at ``target_px`` [display px], the
    line in the text's colour unless ``color`` is given."""
    x, y = ax.transData.inverted().transform(target_px)
    ax.annotate(text.get_text(), xy=(float(x), float(y)), xytext=text.get_position(),
                color=text.get_color(), fontsize=text.get_fontsize(), ha="center",
                va="center", zorder=6, gid=text.get_gid(), linespacing=text.get_linespacing(),
                arrowprops={"arrowstyle": "-", "color": color or text.get_color(), "lw": 1.0,
                            "shrinkA": 2, "shrinkB": 0})
    text.remove()


def _annotate_holes(ax: Axes, space: FreeSpace, holes: Sequence[_Hole]) -> None:
    """Name the holes of a panel's contours (the couplings between the rock-fed and the
    gas-fed exclusion that are not excluded): one note, a leader line to each hole."""
    if not holes:
        return
    targets = np.array([ax.transData.transform(
        [math.exp(float(np.mean(np.log(hole.mass_mev)))),
         math.exp(float(np.mean(0.5 * np.log(hole.d_low * hole.d_high))))]) for hole in holes])
    text = ax.text(0, 0, _HOLE_NOTE, color=OURS_COLOR, fontsize=FONT.note, ha="center",
                   va="center", zorder=6, gid="hole-note", linespacing=1.1)
    if not space.place(text, targets, max_distance_px=3 * _LEADER_PX):
        logger.warning("no room to annotate the holes at %s MeV in Fig. 4",
                       ", ".join(f"{h.mass_mev[0]:.0f}" for h in holes))
        return
    for target in targets[1:]:
        # a transparent copy of the note, so that this leader also starts at its edge
        _leader(ax, ax.text(*text.get_position(), _HOLE_NOTE, color="none",
                            fontsize=FONT.note, ha="center", va="center",
                            linespacing=1.1), target, color=OURS_COLOR)
    _leader(ax, text, targets[0])


def _finish_axes(ax: Axes, y_range: tuple[float, float], *, ylabel: bool) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*MASS_RANGE_MEV)
    ax.set_ylim(*y_range)
    ax.set_xlabel(r"$m_N$ [MeV]")
    if ylabel:  # panels side by side share the first one's
        ax.set_ylabel(r"$d_{\mu N}$ [GeV$^{-1}$]")


@dataclass(frozen=True)
class _Panel:
    """What one panel of Fig. 4 draws."""

    contours: dict[str, Contour]
    dashed: frozenset[str]
    title: str | None = None


def _panel(contours: Mapping[str, ContourSource],
           sensitivity: Iterable[str] | None, title: str | None = None) -> _Panel:
    loaded = {label: source if isinstance(source, Contour) else read_contour(source)
              for label, source in contours.items()}
    dashed = frozenset(sensitivity if sensitivity is not None
                       else (label for label in loaded if _is_sensitivity(label)))
    return _Panel(loaded, dashed, title)


def _draw(
    fig: Figure, axes: Sequence[Axes], panels: Sequence[_Panel], *, data_dir: Any,
    existing_limits: bool, miniboone: bool, rlabel: str, demo: str | None,
    own_figure: bool,
) -> None:
    """Draw the panels on their axes, then the legend, the corner labels and (once the layout
    is final) the names of the existing limits and the notes on the holes."""
    limits = load_existing_limits() if existing_limits else []
    regions = miniboone_regions(data_dir) if miniboone else {}
    y_range = _y_range([c for p in panels for c in p.contours.values()], regions)
    holes: list[list[_Hole]] = []
    handles: dict[str, Artist] = {}
    for k, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
        _draw_limits(ax, limits, y_range[1])
        _draw_miniboone(ax, regions)
        holes.append([])
        for label, contour in panel.contours.items():
            handle, drawn = _draw_contour(ax, label, contour, label in panel.dashed, y_range[1])
            handles.setdefault(label, handle)
            holes[-1] += drawn
        _finish_axes(ax, y_range, ylabel=k == 0)
    ours, labels = axes[0].get_legend_handles_labels()  # the MiniBooNE regions
    ours += list(handles.values())
    labels += list(handles)
    if own_figure:
        fig.legend(ours, labels, loc="outside lower center", ncols=2, frameon=False)
        fig.canvas.draw()
        fig.set_layout_engine("none")  # freeze the layout: the labels go by display pixels
    else:
        axes[0].legend(ours, labels, loc="best")
        fig.canvas.draw()
    for k, ax in enumerate(axes):
        # once the layout is final: mplhep spaces the label's parts in axes coordinates
        corner_label(ax, rlabel=rlabel if k == len(axes) - 1 else None, demo=demo,
                     left=k == 0)
    for ax, panel, panel_holes in zip(axes, panels, holes, strict=True):
        space = FreeSpace(ax)
        if panel.title:  # the panel's name, in its top left corner
            box = ax.get_window_extent()
            name = ax.text(0, 0, panel.title, fontsize=FONT.legend, fontweight="bold",
                           ha="center", va="center", zorder=6, gid="panel-title",
                           bbox={"facecolor": "white", "edgecolor": "none", "pad": 2})
            space.place(name, [[box.x0, box.y1]])
        _annotate_holes(ax, space, panel_holes)
        _label_limits(ax, space, limits, y_range[1])


def plot(
    contours: Mapping[str, ContourSource],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    existing_limits: bool = True,
    ax: Axes | None = None,
    sensitivity: Iterable[str] | None = None,
    miniboone: bool = True,
    rlabel: str = "95% CL",
    demo: str | None = None,
    title: str | None = None,
) -> Figure:
    """Draw Fig. 4: our contours, the MiniBooNE regions and the existing limits.

    Our contours share one strong colour (:data:`OURS_COLOR`): ND280 2019 constraints
    filled, sensitivities dashed, holes between excluded intervals left open and annotated.
    The existing limits are one light grey, each outline in a muted tone and named on the
    plot beside it; the two MiniBooNE regions have styles of their own. The d range follows
    what is drawn (:func:`_y_range`).

    Args:
        contours: legend label -> contour (:class:`t2khnl.scanstore.Contour`, or a
            ``contour.csv`` read with :func:`t2khnl.scanstore.read_contour`).
        data_dir: the input-data folder (MiniBooNE regions); see :func:`t2khnl.flux.verify`.
        existing_limits: draw the ``hnlimits`` limits (converted to 95% CL, our d).
        ax: axes to draw on (its figure's layout must not change afterwards: the labels are
            placed in display pixels); a new figure otherwise.
        sensitivity: labels to draw as dashed (upgrade sensitivities); by default those
            whose label mentions "upgrade", "sensitivity", "T2K-II", "projected".
        miniboone: draw the MiniBooNE-preferred regions.
        rlabel: the corner label's right-hand text.
        demo: the demo statement of a coarse run (:func:`t2khnl.plots.style.demo_text`).
        title: a name written in the top left corner of the plot (e.g. the preset).

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    panel = _panel(contours, sensitivity, title)
    with style():
        own = ax is None
        if ax is None:
            fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 8.5), layout="constrained")
        else:
            fig = ax.figure  # type: ignore[assignment]
        _draw(fig, [ax], [panel], data_dir=data_dir, existing_limits=existing_limits,
              miniboone=miniboone, rlabel=rlabel, demo=demo, own_figure=own)
    return fig


def plot_presets(
    panels: Mapping[str, Mapping[str, ContourSource]],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    existing_limits: bool = True,
    sensitivity: Iterable[str] | None = None,
    rlabel: str = "95% CL",
    demo: str | None = None,
) -> Figure:
    """Fig. 4 of several presets side by side, on shared axes (one panel per preset).

    Args:
        panels: the preset (named in its panel's top left corner, "<preset> preset") -> its
            contours, as for :func:`plot`.
        data_dir: the input-data folder (MiniBooNE regions).
        existing_limits: draw the ``hnlimits`` limits.
        sensitivity: labels to draw dashed (default as :func:`plot`).
        rlabel: the corner label's right-hand text (above the last panel).
        demo: the demo statement of a coarse run.

    Returns:
        The figure.
    """
    import matplotlib.pyplot as plt

    if not panels:
        msg = "plot_presets needs at least one panel"
        raise InputError(msg)
    loaded = [_panel(contours, sensitivity, f"{title} preset")
              for title, contours in panels.items()]
    with style():
        fig, axes = plt.subplots(1, len(loaded), figsize=(PAGE_WIDTH_IN, 8.5), sharex=True,
                                 sharey=True, squeeze=False, layout="constrained")
        _draw(fig, list(axes[0]), loaded, data_dir=data_dir, existing_limits=existing_limits,
              miniboone=True, rlabel=rlabel, demo=demo, own_figure=True)
    return fig


def log_log_axes(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure, Axes]:
    """``ax`` (or new axes of a new figure of ``figsize`` [inches]) with both scales log."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure  # type: ignore[assignment]
    ax.set_xscale("log")
    ax.set_yscale("log")
    return fig, ax
