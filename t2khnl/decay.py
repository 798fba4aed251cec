"""Where a long-lived particle decays: exact probabilities inside a set of boxes.

Every HNL travels on a straight line from its production vertex. For axis-aligned,
non-overlapping boxes (the fiducial volumes) the probability of decaying inside box k is
``exp(-t_in/L) - exp(-t_out/L)``, with ``t_in``/``t_out`` the path lengths [m] at which
the line enters and leaves the box and ``L`` the lab decay length [m]. This module
computes those numbers column-wise and samples the decay point from the truncated
exponential, so an event carries its decay probability as a weight and every sampled
vertex lies inside a fiducial volume.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class Boxes(NamedTuple):
    """Axis-aligned boxes.

    Attributes:
        names: one name per box.
        centre_m: (k, 3) box centres [m].
        width_m: (k, 3) full widths along x, y, z [m].
    """

    names: tuple[str, ...]
    centre_m: FloatArray
    width_m: FloatArray


class Crossings(NamedTuple):
    """Where each ray enters and leaves each box.

    Attributes:
        t_in_m: (n, k) path length [m] from the origin to the entry point.
        t_out_m: (n, k) path length [m] to the exit point; equal to ``t_in_m`` where the
            ray misses the box.
    """

    t_in_m: FloatArray
    t_out_m: FloatArray


def crossings(origin_m: FloatArray, direction: FloatArray, boxes: Boxes) -> Crossings:
    """Intersect rays with boxes (slab method), keeping only the part ahead of the origin.

    Args:
        origin_m: (n, 3) ray origins [m].
        direction: (n, 3) ray directions (need not be normalised).
        boxes: the boxes.

    Returns:
        Entry and exit path lengths [m] along the normalised direction.
    """
    unit = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    low = boxes.centre_m - boxes.width_m / 2
    high = boxes.centre_m + boxes.width_m / 2
    o = origin_m[:, None, :]
    u = unit[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (low[None] - o) / u
        t2 = (high[None] - o) / u
    parallel = u == 0
    inside_slab = (o >= low[None]) & (o <= high[None])
    t_lo = np.where(parallel, np.where(inside_slab, -np.inf, np.inf), np.minimum(t1, t2))
    t_hi = np.where(parallel, np.where(inside_slab, np.inf, -np.inf), np.maximum(t1, t2))
    enter = np.maximum(t_lo.max(axis=2), 0.0)
    leave = t_hi.min(axis=2)
    miss = ~(leave > enter)
    return Crossings(np.where(miss, 0.0, enter), np.where(miss, 0.0, leave))


def decay_probability(
    t_in_m: npt.ArrayLike,
    t_out_m: npt.ArrayLike,
    decay_length_m: npt.ArrayLike,
    *,
    survival: bool = True,
    window_lengths: float | None = None,
) -> FloatArray:
    """Probability that an HNL decays between path lengths t_in and t_out.

    Computed as exp(-t_in/L) * (-expm1(-(t_out - t_in)/L)): exact for any ratio of decay
    length to box size (no cancellation for L much longer than the box).

    Args:
        t_in_m: path length [m] from the production vertex to the box entry (>= 0).
        t_out_m: path length [m] to the box exit (>= t_in_m; equal where the line misses).
        decay_length_m: lab decay length beta*gamma*c*tau [m] (> 0).
        survival: include the survival probability exp(-t_in/L) up to the box. Without it
            (the ``published`` preset: SIREN's event weight as its authors used it) only
            vertices within ``window_lengths`` decay lengths of the box count, as their
            injector (``DecayRangeFunction(m, width, 3, ...)``) only placed them there.
        window_lengths: see ``survival``; ignored when ``survival`` is True.

    Returns:
        The probability (dimensionless, 0-1), broadcast over the inputs.

    Examples:
        A box from 0 to 1 decay length holds 1 - 1/e of the decays; for a decay length of
        1e6 m a 1 m box holds 1e-6 of them wherever it is:

        >>> round(float(decay_probability(0.0, 1.0, 1.0)), 12)
        0.632120558829
        >>> [round(float(p) * 1e6, 5) for p in decay_probability([0.0, 1.0], [1.0, 2.0], 1e6)]
        [1.0, 1.0]
    """
    t_in = np.asarray(t_in_m, dtype=float)
    t_out = np.asarray(t_out_m, dtype=float)
    length = np.asarray(decay_length_m, dtype=float)
    inside = -np.expm1(-(t_out - t_in) / length)
    if survival:
        return np.exp(-t_in / length) * inside
    if window_lengths is None:
        return inside
    return np.where(t_in <= window_lengths * length, inside, 0.0)


def probabilities(cross: Crossings, decay_length_m: FloatArray) -> FloatArray:
    """Probability [0-1] that each particle decays inside each box.

    Args:
        cross: the crossings of the particle lines with the boxes.
        decay_length_m: (n,) lab decay length beta*gamma*c*tau [m] of each particle.

    Returns:
        (n, k) decay probabilities, with survival up to each box.
    """
    length = np.asarray(decay_length_m, dtype=float)[:, None]
    return decay_probability(cross.t_in_m, cross.t_out_m, length)


def sample_vertices(
    rng: np.random.Generator,
    origin_m: FloatArray,
    direction: FloatArray,
    cross: Crossings,
    decay_length_m: FloatArray,
    prob: FloatArray,
) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Draw a decay point inside the boxes for each particle.

    The box is chosen with probability proportional to ``prob`` and the path length
    inside it from the exponential decay law truncated to the box, so the drawn
    vertex, weighted by ``prob.sum(axis=1)``, follows the physical decay distribution
    restricted to the boxes.

    Args:
        rng: random generator.
        origin_m: (n, 3) production vertices [m].
        direction: (n, 3) flight directions.
        cross: crossings of the flight lines with the boxes.
        decay_length_m: (n,) lab decay lengths [m].
        prob: (n, k) decay probabilities from :func:`probabilities`.

    Returns:
        The index of the chosen box (-1 where every probability is zero) and the
        (n, 3) decay vertices [m] (NaN where the index is -1).
    """
    n = len(prob)
    total = prob.sum(axis=1)
    hit = total > 0
    cumulative = np.cumsum(prob, axis=1)
    u_box = rng.random(n) * total
    box = np.minimum((cumulative < u_box[:, None]).sum(axis=1), prob.shape[1] - 1)
    rows = np.arange(n)
    t_in = cross.t_in_m[rows, box]
    span = cross.t_out_m[rows, box] - t_in
    length = np.asarray(decay_length_m, dtype=float)
    accepted = -np.expm1(-span / length)
    t = t_in - length * np.log1p(-rng.random(n) * accepted)
    t = np.clip(t, t_in, t_in + span)
    unit = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    vertex = origin_m + t[:, None] * unit
    vertex[~hit] = np.nan
    return np.where(hit, box, -1), vertex
