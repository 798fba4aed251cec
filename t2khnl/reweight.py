"""Reweight a simulated sample to another dipole coupling d, and its effective size.

One sample generated at a reference coupling d_ref serves every d at the same mass: the
upscattering rate scales as d², the lab decay length as 1/d², and each event carries the
geometry of its HNL line (``t_in_m``, ``t_out_m``, the path lengths [m] from the upscatter
vertex to where the line enters and leaves its fiducial box). The weight per POT at d is

    w(d) = upscatter_weight · (d/d_ref)² · P(L_ref · (d_ref/d)²),
    P(L) = exp(-t_in/L) · (1 - exp(-(t_out - t_in)/L))      (``survival=True``),
    P(L) = 1 - exp(-(t_out - t_in)/L)                        (``survival=False``),

with L_ref the ``decay_length_m`` column. The ``corrected`` preset includes the survival
factor exp(-t_in/L); the ``published`` preset's weights omit it (see docs/published.md),
so reweight its samples with ``survival=False``. At d = d_ref the formula reproduces the
``weight`` column bit for bit (same floating-point operations as the generator).

The events keep their kinematics; only their weights change. Far from d_ref the weights
become uneven (few events carry the yield), which :func:`kish_n_eff` quantifies.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import model
from .config import BrEeFormula, WidthConvention
from .decay import decay_probability
from .errors import InputError

logger = logging.getLogger(__name__)

__all__ = ["REQUIRED_COLUMNS", "SignalModel", "decay_probability", "kish_n_eff",
           "median_decay_length_m", "reweight", "weighted_median"]

#: Columns :func:`reweight` reads from the events.
REQUIRED_COLUMNS = ("upscatter_weight", "t_in_m", "t_out_m", "decay_length_m")


def reweight(
    events: Any,
    d_gev_inv: float,
    *,
    d_ref_gev_inv: float,
    survival: bool = True,
    window_lengths: float | None = None,
) -> NDArray[np.float64]:
    """Per-POT weights of the events at coupling d, from a sample generated at d_ref.

    Args:
        events: the event record (awkward array from :func:`t2khnl.ntuple.read` or
            ``Simulation.events``, a numpy structured array, or a mapping of column name to
            array) with the columns ``upscatter_weight`` [1/POT], ``t_in_m`` [m],
            ``t_out_m`` [m] and ``decay_length_m`` [m, at d_ref].
        d_gev_inv: target dipole coupling d [GeV^-1] (> 0).
        d_ref_gev_inv: coupling d_ref [GeV^-1] the sample was generated at (the
            ``metadata["d_gev_inv"]`` of the ntuple).
        survival: include the survival factor exp(-t_in/L) (``corrected`` preset, default);
            ``False`` for samples of the ``published`` preset, whose weights omit it.
        window_lengths: without survival, count only vertices within this many decay
            lengths (at d) of the box (see :func:`t2khnl.decay.decay_probability`).

    Returns:
        weights [1/POT], one per event: expected decays inside the fiducial volumes per POT
        at d (before BR(ee), cuts and efficiency).

    Raises:
        InputError: a missing column, a non-positive or non-finite coupling, or
            non-positive decay lengths.
    """
    d = _positive(d_gev_inv, "d_gev_inv")
    d_ref = _positive(d_ref_gev_inv, "d_ref_gev_inv")
    up, t_in, t_out, length_ref = (_column(events, name) for name in REQUIRED_COLUMNS)
    if length_ref.size and not np.all(length_ref > 0):
        msg = "decay_length_m must be positive for every event"
        raise InputError(msg)
    ratio2 = (d / d_ref) ** 2
    # L(d) = L_ref (d_ref/d)²; dividing by ratio2 keeps L exactly L_ref at d = d_ref.
    length = length_ref / ratio2
    with np.errstate(over="ignore", under="ignore"):
        prob = decay_probability(t_in, t_out, length, survival=survival,
                                 window_lengths=window_lengths)
    return up * ratio2 * prob


@dataclass(frozen=True)
class SignalModel:
    """Expected selected e+e- events per channel as a function of d [GeV^-1]: what the
    limit's CLs scan (:meth:`t2khnl.experiment.Experiment.excluded_interval`) evaluates,
    holding all it needs (no call back into the pipeline).

    The signal of channel c at d is ``sum(reweight(columns[c], d)) * ee_fraction *
    factors[c][0] * factors[c][1] * ...`` (e.g. efficiency, exposure [POT]), multiplied in
    that order: the weights count decays at the total width of the sample's lifetimes
    (``width_convention``), of which ``ee_fraction`` are ν e+ e-.

    Attributes:
        columns: per channel, the :data:`REQUIRED_COLUMNS` of its selected events.
        factors: per channel, the numbers the summed per-POT weight is multiplied by after
            the e+ e- fraction.
        mass_gev: HNL mass [GeV].
        br_ee_formula: the ratio Γ(ν e+ e-)/Γ(ν γ) (:func:`t2khnl.model.br_ee`).
        width_convention: the width the events' decay lengths were computed with.
        d_ref_gev_inv: coupling [GeV^-1] the events were generated at.
        survival: the weights include the survival to the fiducial volume.
        window_lengths: without survival, the injection window in decay lengths.
        known: signals already computed, by d [GeV^-1] (:meth:`on_grid`).
        ee_fraction: Γ(ν e+ e-)/Γ_total at ``mass_gev``
            (:func:`t2khnl.model.ee_fraction_of_decays`; computed, not given).
    """

    columns: Mapping[str, Mapping[str, np.ndarray]]
    factors: Mapping[str, tuple[float, ...]]
    mass_gev: float
    br_ee_formula: BrEeFormula
    width_convention: WidthConvention
    d_ref_gev_inv: float
    survival: bool = True
    window_lengths: float | None = None
    known: Mapping[float, dict[str, float]] = field(default_factory=dict)
    ee_fraction: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ee_fraction", float(model.ee_fraction_of_decays(
            self.mass_gev, self.width_convention, self.br_ee_formula)))

    def on_grid(self, d_gev_inv: ArrayLike) -> SignalModel:
        """The same model with its signals at the couplings ``d_gev_inv`` [GeV^-1] computed
        once (a CLs scan and a patchset over the same grid then share them)."""
        grid = [float(d) for d in np.asarray(d_gev_inv, dtype=float)]
        return replace(self, known={**self.known, **{d: self(d) for d in grid}})

    def weights(self, channel: str, d_gev_inv: float) -> NDArray[np.float64]:
        """Per-POT weights of ``channel``'s events at d [GeV^-1] (:func:`reweight`)."""
        return reweight(self.columns[channel], d_gev_inv, d_ref_gev_inv=self.d_ref_gev_inv,
                        survival=self.survival, window_lengths=self.window_lengths)

    def __call__(self, d_gev_inv: float) -> dict[str, float]:
        if d_gev_inv in self.known:
            return dict(self.known[d_gev_inv])
        out = {}
        for channel, factors in self.factors.items():
            value = float(self.weights(channel, d_gev_inv).sum()) * self.ee_fraction
            for factor in factors:
                value *= factor
            out[channel] = value
        return out


def kish_n_eff(weights: ArrayLike) -> float:
    """Kish effective sample size (Σw)² / Σw².

    Args:
        weights: event weights (any common unit).

    Returns:
        the effective number of events (N for N equal weights); 0.0 for an empty sample or
        all-zero weights.

    >>> kish_n_eff([2.0, 2.0, 2.0, 2.0])
    4.0
    >>> kish_n_eff([3.0, 1.0])  # 16 / 10
    1.6
    >>> kish_n_eff([])
    0.0
    """
    w = np.asarray(weights, dtype=float).ravel()
    sum_w2 = float(np.sum(w * w))
    if w.size == 0 or sum_w2 == 0.0:
        return 0.0
    return float(np.sum(w)) ** 2 / sum_w2


def _positive(value: float, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be a number, got {value!r}"
        raise InputError(msg) from exc
    if not (math.isfinite(out) and out > 0):
        msg = f"{name} must be positive and finite, got {value!r}"
        raise InputError(msg)
    return out


def _column(events: Any, name: str) -> NDArray[np.float64]:
    """One event column as a float64 numpy array."""
    fields = _fields(events)
    if fields is not None and name not in fields:
        msg = f"events have no column {name!r} (need {', '.join(REQUIRED_COLUMNS)})"
        raise InputError(msg)
    try:
        column = events[name]
    except (KeyError, ValueError, IndexError) as exc:
        msg = f"events have no column {name!r} (need {', '.join(REQUIRED_COLUMNS)})"
        raise InputError(msg) from exc
    if hasattr(column, "to_numpy") and not isinstance(column, np.ndarray):
        column = column.to_numpy()
    return np.asarray(column, dtype=np.float64)


def _fields(events: Any) -> tuple[str, ...] | None:
    """Column names of a mapping, structured array or awkward record array, if knowable."""
    if isinstance(events, Mapping):
        return tuple(events)
    dtype_names = getattr(getattr(events, "dtype", None), "names", None)
    if dtype_names is not None:
        return tuple(dtype_names)
    fields = getattr(events, "fields", None)
    if isinstance(fields, list | tuple):
        return tuple(fields)
    return None


#: Relative tolerance of the tie at half the total weight in :func:`weighted_median`.
_TIE_RTOL = 1e-12


def weighted_median(values: ArrayLike, weights: ArrayLike) -> float:
    """Weighted median: the smallest value whose cumulative weight reaches half the total.

    When the cumulative weight equals half the total exactly, the mean of that value and
    the next is returned, so integer weights give ``np.median(np.repeat(values, weights))``
    and equal weights ``np.median(values)``. Zero weights are ignored.

    Args:
        values: the values.
        weights: non-negative weights, same shape, with a positive sum.

    Returns:
        The median.

    Raises:
        InputError: shapes differ, a weight is negative or not finite, or all are zero.
    """
    v = np.asarray(values, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    if v.shape != w.shape:
        msg = f"values and weights differ in size: {v.size} and {w.size}"
        raise InputError(msg)
    if not np.all(np.isfinite(w) & (w >= 0)) or not w.sum() > 0:
        msg = "weights must be finite, non-negative and not all zero"
        raise InputError(msg)
    order = np.argsort(v[w > 0], kind="stable")
    v, w = v[w > 0][order], w[w > 0][order]
    cumulative = np.cumsum(w)
    half = 0.5 * cumulative[-1]
    i = int(np.searchsorted(cumulative, half * (1 - _TIE_RTOL)))
    if cumulative[i] <= half * (1 + _TIE_RTOL) and i + 1 < v.size:
        return float(0.5 * (v[i] + v[i + 1]))
    return float(v[i])


def median_decay_length_m(events: Any) -> float | None:
    """Weighted median of a sample's lab decay lengths [m] (``decay_length_m``, at the
    sample's coupling), weighted per POT by ``upscatter_weight``; it scales as d^-2.
    None for a sample without an event of positive weight.

    Raises:
        InputError: a missing column.
    """
    weights = _column(events, "upscatter_weight")
    if not (weights.size and np.sum(weights) > 0):
        return None
    return weighted_median(_column(events, "decay_length_m"), weights)
