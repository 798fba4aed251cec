"""Where a mass's next injection attempts go: Neyman allocation over the injection strata.

The generator injects upscatters in strata (fiducial box x layer of distance in front of
it, :func:`t2khnl.generate.generate_events`); each stratum's weights are normalised by its
own attempts, so any allocation that samples every stratum is unbiased. Equal shares waste
attempts: at 0.13 GeV the lower edge of the ND280 limit comes from the rock, 4-280 m
upstream, the upper edge from the box itself. After a first attempt at a mass, the MC
error of the signal at an edge d is sqrt(sum_h n_h E_h[y^2] / n_h^2) with n_h the attempts
in stratum h and y its per-attempt yield at d; for a fixed total it is smallest for
n_h proportional to s_h = sqrt(E_h[y^2]) (Neyman). With several edges, each stratum gets
the largest of its shares s_h / sum_h s_h over the edges, and at least
:data:`FLOOR` / (number of strata), so that every stratum stays sampled for the other
couplings of the grid.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import limit
from .limit import LimitOutcome

#: Smallest share of a stratum, as a fraction of an equal share.
FLOOR = 0.2
#: The next attempt is sized for each edge's MC variance to fall by its need (see
#: :func:`next_attempt`) times this margin (the variances are themselves MC estimates) ...
EVENTS_MARGIN = 1.3
#: ... and adds at least this fraction of the events made so far.
MIN_EVENTS_GROWTH = 1.2
#: Totals tried by :func:`next_attempt` between the smallest growth and the cap.
_SIZES = 64


class Attempt(NamedTuple):
    """A mass's next attempt.

    Attributes:
        n_total: attempts per beam the sample is to reach (the new sample's own size when
            it replaces the last one instead of being pooled with it).
        shares: per beam, the shares of the new events per stratum (box, layer); None:
            equal shares (the events carry no strata).
    """

    n_total: int
    shares: dict[str, list[list[float]]] | None


class _Moments(NamedTuple):
    """What a finished attempt says of each stratum (box, layer), per beam.

    Attributes:
        attempts: injection attempts made in each stratum.
        variance: per quoted edge name, the stratum's contribution Σ w_i² [events²] to the
            MC variance of the signal at that edge (w_i: the events' yields there).
    """

    attempts: dict[str, np.ndarray]
    variance: dict[str, dict[str, np.ndarray]]


def _moments(outcome: LimitOutcome) -> _Moments | None:
    """Per-stratum attempts and variance contributions at the edges of a finished attempt
    (its selected events in memory), or None when nothing is excluded inside the grid or
    the events carry no strata."""
    summary = outcome.summary
    edges = {name: d for name, d in (summary.get("edges") or {}).items()
             if d is not None and not summary.get(f"{name}_open")}
    if not edges:
        return None
    cfg, channels = outcome.preset, outcome.channels
    attempts = {ch.name: ch.strata_attempts for ch in channels
                if ch.strata_attempts is not None and "layer" in ch.events.fields}
    if len(attempts) < len(channels):
        return None
    variance: dict[str, dict[str, np.ndarray]] = {}
    for name, d in edges.items():
        yields = {ch.name: limit.event_yields([ch], d, cfg) for ch in channels}
        if not sum(float(y.sum()) for y in yields.values()) > 0:
            continue
        variance[name] = {}
        for ch in channels:
            per_stratum = np.zeros_like(attempts[ch.name])
            np.add.at(per_stratum, (np.asarray(ch.events["fv_index"]),
                                    np.asarray(ch.events["layer"])), yields[ch.name] ** 2)
            variance[name][ch.name] = per_stratum
    return _Moments(attempts, variance)


def _shares(moments: _Moments) -> dict[str, list[list[float]]] | None:
    """Neyman shares per beam: for each edge, n_h proportional to sqrt(n_h Σ w²) (the
    per-attempt RMS yield of stratum h), as a fraction of the edge's sum over both beams (a
    beam gets its events where it matters, for the edge it matters for); per stratum the
    largest fraction over the edges, floored, normalised per beam."""
    need = {beam: np.zeros_like(made) for beam, made in moments.attempts.items()}
    for per_beam in moments.variance.values():
        spread = {beam: np.sqrt(moments.attempts[beam] * v) for beam, v in per_beam.items()}
        total = sum(float(s.sum()) for s in spread.values())
        for beam, s in spread.items():
            need[beam] = np.maximum(need[beam], s / total)
    shares = {}
    for beam, values in need.items():
        if not values.sum() > 0:
            return None
        values = np.maximum(values / values.sum(), FLOOR / values.size)
        shares[beam] = (values / values.sum()).tolist()
    return shares


def neyman_shares(outcome: LimitOutcome) -> dict[str, list[list[float]]] | None:
    """Shares of the next attempt's events per beam and stratum (box, layer).

    Args:
        outcome: a finished :func:`t2khnl.limit.run`: its selected events (with the
            ``fv_index`` and ``layer`` fields and ``metadata["strata"]``), its summary
            (``edges``: the interval's edges [GeV^-1] before any was refused;
            ``d_low_open``/``d_high_open``) and preset.

    Returns:
        ``{beam: shares}`` with shares of shape (boxes, layers) summing to 1, or None when
        nothing is excluded inside the grid or the ntuples carry no strata.
    """
    moments = _moments(outcome)
    return None if moments is None else _shares(moments)


def next_attempt(outcome: LimitOutcome, *, needs: dict[str, float], n_made: int, n_cap: int,
                 pooled: bool) -> Attempt:
    """Size and allocate a mass's next attempt so that every edge meets its need.

    With attempts n_h made in stratum h, an edge's MC variance is V = Σ_h m_h / n_h with
    m_h = n_h Σ_{i in h} w_i² (the per-attempt second moment). The new events go where
    Neyman says (:func:`top_up` of :func:`neyman_shares`); for a total of N attempts per
    beam that gives n'_h(N), and the smallest N (from :data:`MIN_EVENTS_GROWTH` times the
    events made up to ``n_cap``) with Σ_h m_h / n'_h(N) <= V / (need × EVENTS_MARGIN) at
    every edge is taken. Without strata (a stand-in runner) the variance falls as 1/N:
    N = n_made × need × margin.

    Args:
        outcome: the finished attempt (see :func:`neyman_shares`).
        needs: per edge name (``"d_low"``, ``"d_high"``), the factor (> 1) by which its MC
            variance must fall.
        n_made: attempts per beam in the analysed sample.
        n_cap: most attempts per beam.
        pooled: the new events are pooled with the analysed sample's (else they replace it).

    Returns:
        The :class:`Attempt`.
    """
    lowest = min(n_cap, math.ceil(n_made * MIN_EVENTS_GROWTH))
    moments = _moments(outcome)
    shares = None if moments is None else _shares(moments)
    if moments is None or shares is None or not set(needs) <= set(moments.variance):
        growth = EVENTS_MARGIN * max(needs.values())
        return Attempt(max(lowest, min(n_cap, math.ceil(n_made * growth))), shares)
    made = {b: a if pooled else np.zeros_like(a) for b, a in moments.attempts.items()}

    def allocated(n_total: int) -> dict[str, list[list[float]]]:
        return top_up(shares, {b: a.tolist() for b, a in made.items()}, n_total)

    def enough(n_total: int) -> bool:
        wanted = allocated(n_total)
        after = {b: made[b] + (n_total - made[b].sum()) * np.asarray(wanted[b]) for b in made}
        return all(_predicted(moments, name, after) * need * EVENTS_MARGIN
                   <= sum(float(v.sum()) for v in moments.variance[name].values())
                   for name, need in needs.items())

    sizes = np.unique(np.geomspace(lowest, max(lowest, n_cap), _SIZES).round().astype(int))
    n_total = next((int(n) for n in sizes if enough(int(n))), n_cap)
    return Attempt(n_total, allocated(n_total))


def _predicted(moments: _Moments, edge: str, attempts: dict[str, np.ndarray]) -> float:
    """MC variance [events²] at an edge with ``attempts`` per stratum instead of those made."""
    return sum(float(np.sum(moments.attempts[b] * v / np.maximum(attempts[b], 1.0)))
               for b, v in moments.variance[edge].items())


def top_up(shares: dict[str, list[list[float]]], attempts: dict[str, list[list[int]]],
           n_total: int) -> dict[str, list[list[float]]]:
    """Shares of the events that bring a pooled sample to ``n_total`` attempts per beam.

    The pooled sample already has ``attempts`` per stratum; the strata short of their
    share of ``n_total`` get the new events in proportion to their shortfall (a stratum
    above its share gets none beyond the one attempt every stratum keeps).

    Args:
        shares: per beam, the wanted shares per stratum (:func:`neyman_shares`).
        attempts: per beam, the attempts per stratum already made (same shape).
        n_total: attempts per beam wanted in all.

    Returns:
        Per beam, the shares (summing to 1) of the ``n_total`` minus already made attempts.
    """
    out = {}
    for beam, wanted in shares.items():
        made = np.asarray(attempts[beam], dtype=float)
        short = np.maximum(n_total * np.asarray(wanted, dtype=float) - made, 0.0)
        out[beam] = (short / short.sum()).tolist() if short.sum() > 0 else wanted
    return out
