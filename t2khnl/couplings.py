"""The scanned coupling grid: its default range, its density and ``--d-range``.

A light module (numpy only), so the command line can build its help from it.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import InputError

#: Default range [GeV^-1] of the scanned couplings (``--d-range``), and the grid's density
#: [points per decade].
D_RANGE_GEV_INV = (1e-8, 1e-3)
D_POINTS_PER_DECADE = 16


def d_grid(d_range: tuple[float, float] | None = None) -> np.ndarray:
    """The scanned couplings [GeV^-1]: log-spaced from ``d_range[0]`` to ``d_range[1]``
    (default :data:`D_RANGE_GEV_INV`: 81 points), :data:`D_POINTS_PER_DECADE` a decade or
    a little more.

    >>> grid = d_grid()
    >>> len(grid), float(grid[0]), float(grid[-1])
    (81, 1e-08, 0.001)
    >>> len(d_grid((1e-6, 1e-5)))  # one decade: 16 steps
    17
    """
    low, high = d_range or D_RANGE_GEV_INV
    n_points = math.ceil(D_POINTS_PER_DECADE * math.log10(high / low) - 1e-9) + 1
    return np.geomspace(low, high, max(n_points, 2))


#: The default coupling grid [GeV^-1].
D_GRID_GEV_INV = d_grid()


def parse_d_range(spec: str) -> tuple[float, float]:
    """The coupling range of ``--d-range``: ``"lo:hi"`` [GeV^-1], e.g. ``"1e-8:1e-2"``.

    Raises:
        InputError: not two numbers, not positive and finite, or lo not below hi.

    >>> parse_d_range("1e-8:1e-2")
    (1e-08, 0.01)
    >>> parse_d_range("1e-2:1e-8")
    Traceback (most recent call last):
    ...
    t2khnl.errors.InputError: coupling range '1e-2:1e-8' must have 0 < lo < hi [GeV^-1], finite
    """
    parts = str(spec).split(":")
    try:
        low, high = (float(part) for part in parts)
    except ValueError as err:
        msg = f"cannot parse the coupling range {spec!r}: expected lo:hi in GeV^-1, e.g. 1e-8:1e-2"
        raise InputError(msg) from err
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        msg = f"coupling range {spec!r} must have 0 < lo < hi [GeV^-1], finite"
        raise InputError(msg)
    return low, high


__all__ = ["D_GRID_GEV_INV", "D_POINTS_PER_DECADE", "D_RANGE_GEV_INV", "d_grid", "parse_d_range"]
