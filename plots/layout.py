"""Put text on a plot where no curve runs.

:func:`curve_points` samples every drawn outline of an axes (lines, patch edges, collection
paths) in display pixels, one point per pixel of length, inside the axes. :class:`FreeSpace`
marks them (and the boxes of text already placed) on a pixel map of the axes; its
:meth:`FreeSpace.place` puts a text at the free spot nearest to where it is wanted, optionally
only where the spot lies inside a region (an existing limit's area).

The figure's layout must be final before placing (draw it once, then freeze the layout
engine): positions are display pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.path import Path as MplPath
    from matplotlib.text import Text

__all__ = ["FreeSpace", "clear_under", "curve_artists", "curve_points", "densify"]

_STEP_PX = 1.0
_GRID_PX = 4.0
_PAD_PX = 4.0


def densify(vertices: npt.ArrayLike, step: float = _STEP_PX) -> npt.NDArray[np.float64]:
    """Points along a polyline [px], at most ``step`` apart (its vertices included)."""
    xy = np.asarray(vertices, dtype=float).reshape(-1, 2)
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if len(xy) < 2:
        return xy
    seg = np.diff(xy, axis=0)
    n = np.maximum(1, np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / step)).astype(int)
    t = np.concatenate([np.arange(k) / k for k in n])
    start = np.repeat(xy[:-1], n, axis=0)
    return np.vstack([start + np.repeat(seg, n, axis=0) * t[:, None], xy[-1:]])


def curve_artists(ax: Axes) -> list[Artist]:
    """The artists of ``ax`` that draw outlines: visible lines, edged patches (not the axes'
    frame), collections other than colour meshes."""
    from matplotlib.collections import Collection, QuadMesh
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.spines import Spine

    out: list[Artist] = []
    for artist in ax.get_children():
        if not artist.get_visible() or artist is ax.patch or isinstance(artist, Spine):
            continue
        edged = isinstance(artist, Patch) and artist.get_linewidth() > 0 and float(
            to_rgba(artist.get_edgecolor())[3]) > 0
        if isinstance(artist, Line2D) or edged or (
                isinstance(artist, Collection) and not isinstance(artist, QuadMesh)):
            out.append(artist)
    return out


def _paths(artist: Artist) -> list[MplPath]:
    """An artist's outlines in display pixels."""
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D

    if isinstance(artist, Line2D):
        return [artist.get_transform().transform_path(artist.get_path())]
    if isinstance(artist, Collection):
        transform = artist.get_transform()
        return [transform.transform_path(p) for p in artist.get_paths()]
    return [artist.get_transform().transform_path(artist.get_path())]  # type: ignore[attr-defined]


def curve_points(ax: Axes, artists: Iterable[Artist] | None = None) -> npt.NDArray[np.float64]:
    """Points of every outline drawn in ``ax`` [display px], 1 px apart, inside the axes.

    Args:
        ax: the axes (its figure drawn, so that the transforms are final).
        artists: the artists to sample (default :func:`curve_artists`).

    Returns:
        Shape (n, 2).
    """
    box = ax.get_window_extent()
    parts = [np.empty((0, 2))]
    for artist in curve_artists(ax) if artists is None else artists:
        for path in _paths(artist):
            for poly in path.to_polygons(closed_only=False):
                pts = densify(poly)
                inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1)
                          & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1))
                parts.append(pts[inside])
    return np.vstack(parts)


class FreeSpace:
    """Which pixels of an axes are taken by curves or placed text, and where text fits."""

    def __init__(self, ax: Axes, points: npt.NDArray[np.float64] | None = None) -> None:
        """Mark ``points`` [display px] (default: :func:`curve_points` of ``ax``) as taken."""
        self.ax = ax
        self.box = ax.get_window_extent()
        self.shape = (int(np.ceil(self.box.width)) + 1, int(np.ceil(self.box.height)) + 1)
        self.taken = np.zeros(self.shape, dtype=bool)
        self.mark(curve_points(ax) if points is None else points)

    def mark(self, points: npt.NDArray[np.float64]) -> None:
        """Mark points [display px] as taken."""
        ij = np.floor(np.asarray(points, dtype=float).reshape(-1, 2)
                      - [self.box.x0, self.box.y0]).astype(int)
        ok = (ij[:, 0] >= 0) & (ij[:, 0] < self.shape[0]) & (ij[:, 1] >= 0) & (
            ij[:, 1] < self.shape[1])
        self.taken[ij[ok, 0], ij[ok, 1]] = True

    def mark_box(self, extent: Any, pad: float = _PAD_PX) -> None:
        """Mark a box (a matplotlib ``Bbox`` in display px, grown by ``pad``) as taken."""
        i0, j0 = (int(np.floor(v)) for v in (extent.x0 - pad - self.box.x0,
                                              extent.y0 - pad - self.box.y0))
        i1, j1 = (int(np.ceil(v)) for v in (extent.x1 + pad - self.box.x0,
                                             extent.y1 + pad - self.box.y0))
        self.taken[max(i0, 0):max(i1 + 1, 0), max(j0, 0):max(j1 + 1, 0)] = True

    def _free(self, centres: npt.NDArray[np.float64], half: npt.NDArray[np.float64]
              ) -> npt.NDArray[np.bool_]:
        """Whether the box of half-size ``half`` around each centre [display px] lies inside
        the axes and holds no taken pixel (summed-area table)."""
        table = np.zeros((self.shape[0] + 1, self.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = self.taken.cumsum(0).cumsum(1)
        lo = np.floor(centres - half - [self.box.x0, self.box.y0]).astype(int)
        hi = np.ceil(centres + half - [self.box.x0, self.box.y0]).astype(int) + 1
        inside = np.all(lo >= 0, axis=1) & (hi[:, 0] <= self.shape[0]) & (
            hi[:, 1] <= self.shape[1])
        lo, hi = lo[inside], hi[inside]
        count = table[hi[:, 0], hi[:, 1]] - table[lo[:, 0], hi[:, 1]] - table[
            hi[:, 0], lo[:, 1]] + table[lo[:, 0], lo[:, 1]]
        free = np.zeros(len(centres), dtype=bool)
        free[np.flatnonzero(inside)[count == 0]] = True
        return free

    def candidates(self, step: float = _GRID_PX) -> npt.NDArray[np.float64]:
        """A grid of points over the axes [display px], ``step`` apart."""
        xs = np.arange(self.box.x0 + step / 2, self.box.x1, step)
        ys = np.arange(self.box.y0 + step / 2, self.box.y1, step)
        gx, gy = np.meshgrid(xs, ys, indexing="ij")
        return np.column_stack([gx.ravel(), gy.ravel()])

    def place(
        self,
        text: Text,
        near: npt.ArrayLike,
        *,
        inside: MplPath | None = None,
        max_distance_px: float = np.inf,
    ) -> bool:
        """Move ``text`` (centred on its position) to the free spot nearest to ``near``.

        Args:
            text: a text of ``self.ax``, with ``ha="center"``, ``va="center"``, in data
                coordinates.
            near: points [display px], shape (n, 2); the distance to the nearest one ranks
                the spots.
            inside: a region [display px]; the spot's centre must lie in it. None: anywhere.
            max_distance_px: farthest allowed distance from ``near`` [px].

        Returns:
            Whether a spot was found; if so the text is moved there and its box is marked
            taken, else the text is made invisible.
        """
        from scipy.spatial import cKDTree

        renderer = self.ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        extent = text.get_window_extent(renderer)
        half = np.array([extent.width / 2 + _PAD_PX, extent.height / 2 + _PAD_PX])
        centres = self.candidates()
        centres = centres[self._free(centres, half)]
        if inside is not None and len(centres):
            centres = centres[inside.contains_points(centres)]
        targets = np.asarray(near, dtype=float).reshape(-1, 2)
        if not len(centres) or not len(targets):
            text.set_visible(False)
            return False
        distance, _ = cKDTree(targets).query(centres)
        best = int(np.argmin(distance))
        if distance[best] > max_distance_px:
            text.set_visible(False)
            return False
        x, y = self.ax.transData.inverted().transform(centres[best])
        text.set_position((float(x), float(y)))
        self.mark_box(text.get_window_extent(renderer))
        return True


def clear_under(collection: Any, boxes: Iterable[Any], pad: float = 2.0) -> None:
    """Break the paths of a collection (e.g. a contour set) where they run under text.

    Args:
        collection: a matplotlib ``Collection`` drawn in its axes' data coordinates.
        boxes: ``Bbox`` es in display pixels (the texts' window extents).
        pad: margin around each box [px].
    """
    from matplotlib.path import Path as MplPath

    boxes = [box.padded(pad) for box in boxes]
    transform = collection.get_transform()
    inverse = transform.inverted()
    paths = []
    for path in collection.get_paths():
        vertices: list[npt.NDArray[np.float64]] = []
        codes: list[npt.NDArray[np.uint8]] = []
        for poly in transform.transform_path(path).to_polygons(closed_only=False):
            pts = densify(poly)
            keep = np.ones(len(pts), dtype=bool)
            for box in boxes:
                keep &= ~((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1)
                          & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1))
            for run in np.split(np.arange(len(pts)), np.flatnonzero(np.diff(keep)) + 1):
                if keep[run[0]] and run.size > 1:
                    vertices.append(inverse.transform(pts[run]))
                    code = np.full(run.size, MplPath.LINETO, dtype=np.uint8)
                    code[0] = MplPath.MOVETO
                    codes.append(code)
        paths.append(MplPath(np.vstack(vertices), np.concatenate(codes)) if vertices
                     else MplPath(np.empty((0, 2))))
    collection.set_paths(paths)
