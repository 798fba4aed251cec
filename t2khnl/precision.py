"""MC precision of a scanned mass: the MC error on each edge of the excluded interval, and
what an edge short of the target needs.

Near an edge d_e the exclusion criterion is essentially a fixed total signal S(d_e) =
S_crit, so a relative MC error ε on S moves the edge by δ ln d = ε / |d ln S / d ln d|::

    δd = d_e · ε(d_e) / |s(d_e)|,
    ε(d) = sqrt(Σ_i w_i(d)²) / Σ_i w_i(d),
    s(d) = [ln S(d·e^h) − ln S(d·e^−h)] / (2h),  h = 0.01,

with w_i(d) = reweight_i(d) · efficiency_c · POT_c [events] over the selected events i of
both beams c (read back from ``selected_{fhc,rhc}.root``) and S(d) = Σ_i w_i(d); BR(ee) is
common to all events and cancels. It ignores the (smaller) MC error on the efficiency and
the per-channel structure of the CLs (exact for zero background).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .limit import LimitOutcome

#: Step in ln d [dimensionless] of the finite-difference slope of ln S.
SLOPE_STEP = 0.01


def edge_errors(outcome: LimitOutcome) -> dict[str, float | None]:
    """MC error [GeV^-1] on each quoted edge of the excluded interval (module docstring).

    Args:
        outcome: a :func:`t2khnl.limit.run` result: its summary (``d_low``, ``d_high``
            [GeV^-1]), selected events in memory and preset (whether the weights include
            survival to the fiducial volume).

    Returns:
        ``{"d_low_err": ..., "d_high_err": ...}`` [GeV^-1]; None where the edge is not
        quoted, is the end of the scanned grid, or the signal is flat or empty there.
    """
    from . import limit

    summary = outcome.summary
    # an open edge is the end of the scanned grid, not a limit: it has no MC error
    edges = {"d_low": None if summary["d_low_open"] else summary["d_low"],
             "d_high": None if summary["d_high_open"] else summary["d_high"]}
    out: dict[str, float | None] = {f"{name}_err": None for name in edges}
    if all(d is None for d in edges.values()):
        return out

    def weights(d: float) -> np.ndarray:
        return limit.event_yields(outcome.channels, d, outcome.preset)

    for name, d in edges.items():
        if d is None:
            continue
        w = weights(d)
        total = float(w.sum())
        up, down = float(weights(d * math.exp(SLOPE_STEP)).sum()), float(
            weights(d * math.exp(-SLOPE_STEP)).sum())
        if not (total > 0 and up > 0 and down > 0):
            continue
        rel = math.sqrt(float(np.sum(w * w))) / total
        slope = (math.log(up) - math.log(down)) / (2 * SLOPE_STEP)
        if slope != 0 and math.isfinite(slope):
            out[f"{name}_err"] = d * rel / abs(slope)
    return out


def variance_needs(summary: Mapping[str, Any], errors: dict[str, float | None],
                   precision: float | None) -> dict[str, float]:
    """Per edge short of ``precision`` (δd/d), the factor by which its MC variance must fall;
    empty when every edge meets it (or no target is set).

    A quoted edge needs (error / target)^2, one refused for n_eff < 50 needs 50 / n_eff
    (n_eff = S² / Σw²). An open edge (the end of the coupling grid, excluded) is not
    chased: its value is the grid's, not an estimate, and at low masses the prompt decays
    that exclude d = 1e-3 GeV^-1 by orders of magnitude rest on a few dozen effective events
    whatever the sample size (a contour draws a lower edge without an upper one up to the
    top of the plane anyway).

    Example:
        >>> variance_needs({"d_low": 1e-6, "d_high": None}, {"d_low_err": 6e-8}, 0.03)
        {'d_low': 4.0}
    """
    from .limit import MIN_N_EFF

    needs: dict[str, float] = {}
    if precision is None:
        return needs
    for edge in ("d_low", "d_high"):
        error = errors.get(f"{edge}_err")
        if error is not None and error > precision * summary[edge]:
            needs[edge] = (error / (precision * summary[edge])) ** 2
        n_eff = (summary.get("n_eff") or {}).get(edge)
        refused = (summary.get("refused") or {}).get(edge)
        if refused and n_eff is not None and not summary.get(f"{edge}_open"):
            needs[edge] = max(needs.get(edge, 0.0), MIN_N_EFF / max(n_eff, 1.0))
    return needs


__all__ = ["SLOPE_STEP", "edge_errors", "variance_needs"]
