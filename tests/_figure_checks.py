"""Structural checks of a drawn matplotlib figure, shared by the figure tests.

Written apart from :mod:`t2khnl.plots.layout` (which places the text): the checks sample the
drawn outlines themselves and compare them with the boxes matplotlib reports, all in display
pixels.
"""

from __future__ import annotations

import itertools
import re

import numpy as np
from matplotlib.collections import Collection, QuadMesh
from matplotlib.colorbar import Colorbar
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.spines import Spine
from matplotlib.text import Text

UNIT = re.compile(r"\[[^\]]+\]")


def _outlines(ax):
    """(artist, display-pixel polylines) of every drawn outline of ``ax``."""
    for artist in ax.get_children():
        if not artist.get_visible() or artist is ax.patch or isinstance(artist, Spine):
            continue
        if isinstance(artist, Line2D):
            paths = [artist.get_path()]
        elif isinstance(artist, Patch):
            if artist.get_linewidth() == 0 or artist.get_edgecolor()[3] == 0:
                continue
            paths = [artist.get_path()]
        elif isinstance(artist, Collection) and not isinstance(artist, QuadMesh):
            paths = artist.get_paths()
        else:
            continue
        transform = artist.get_transform()
        for path in paths:
            for poly in transform.transform_path(path).to_polygons(closed_only=False):
                yield artist, poly


def curve_points(ax, step_px=1.0):
    """Points along every outline drawn in ``ax``, ``step_px`` apart, inside the axes."""
    box = ax.get_window_extent()
    out = [np.empty((0, 2))]
    for _, poly in _outlines(ax):
        poly = poly[np.all(np.isfinite(poly), axis=1)]
        for a, b in itertools.pairwise(poly):
            n = max(2, int(np.hypot(*(b - a)) / step_px) + 1)
            pts = a + np.linspace(0, 1, n)[:, None] * (b - a)
            keep = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0)
                    & (pts[:, 1] <= box.y1))
            out.append(pts[keep])
    return np.vstack(out)


def _text_box(text, renderer):
    """The box of a text alone (an annotation's arrow left out)."""
    return Text.get_window_extent(text, renderer)


def overlaps(fig):
    """(what, text) of every visible text or legend that covers a point of a drawn curve.

    Call it in the style the figure is saved with: a "sans-serif" text takes its font (and
    width) from the rcParams in force when it is drawn.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = [ax for ax in fig.axes if ax.get_visible()]
    points = {ax: curve_points(ax) for ax in axes}
    boxes = []
    for ax in axes:
        boxes += [(t.get_text(), _text_box(t, renderer)) for t in ax.texts
                  if t.get_visible() and t.get_text().strip()]
    legends = [*fig.legends, *(ax.get_legend() for ax in axes)]
    boxes += [("legend", leg.get_window_extent(renderer)) for leg in legends
              if isinstance(leg, Legend)]
    found = []
    for what, box in boxes:
        for ax in axes:
            pts = points[ax]
            inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                      & (pts[:, 1] < box.y1))
            if np.any(inside):
                found.append((what, ax.get_label() or ax))
    return found


def assert_clear(fig):
    """No text or legend of ``fig`` covers a drawn curve."""
    found = overlaps(fig)
    assert not found, f"text over curves: {found}"


def assert_units(fig):
    """Every visible axes has axis labels with a unit in brackets (or shares the axis with
    one that has), and every colour bar's label has one."""
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        bar = getattr(ax, "_colorbar", None)
        if isinstance(bar, Colorbar):
            label = ax.get_ylabel() or ax.get_xlabel()
            assert UNIT.search(label), f"colour bar label without a unit: {label!r}"
            continue
        for which in ("x", "y"):
            group = getattr(ax, f"get_shared_{which}_axes")().get_siblings(ax)
            labels = [getattr(a, f"get_{which}label")() for a in group if a.get_visible()]
            assert any(UNIT.search(label) for label in labels), (
                f"{which} axis without a unit: {labels}")
