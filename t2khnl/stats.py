"""CLs, limits in d and Asimov sensitivity on the counting experiment of :mod:`t2khnl.counting`.

``calctype`` of :func:`cls`: ``"exact"`` (default; the infinite-toy limit of pyhf's toy
calculator, Poisson outcomes enumerated: with nothing observed, CLs = exp(-sum s), the paper's
2.996-event limit), ``"asymptotics"`` (``pyhf cls``), ``"asymptotics_clsb"``, ``"toybased"``.
:func:`significance_of_exclusion` is the upgrade-sensitivity Z (Cowan et al.). The
conventions, with the numbers that check them, are in docs/statistics.md.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np
import pyhf
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from .config import check_choice
from .counting import (
    MODIFIER_SETTINGS,
    Counts,
    _as_counts,
    _channel_names,
    _count,
    _counting_model,
)
from .errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "ZERO_EVENT_LIMIT_95",
    "CalcType",
    "LimitResult",
    "cls",
    "cowan_exclusion_significance",
    "expected_cls",
    "limit_interval",
    "make_cls_fn",
    "significance_of_exclusion",
    "upper_limit",
]

CalcType = Literal["exact", "asymptotics", "asymptotics_clsb", "toybased"]
TestStat = Literal["qtilde", "q"]

#: Signal events [events] excluded at 95% CL with nothing observed (Poisson): -ln 0.05.
ZERO_EVENT_LIMIT_95 = -math.log(0.05)
#: Poisson tail probability neglected per bin in the exact enumeration.
_TAIL = 1e-10
#: Joint Poisson probability below which an outcome is skipped in the exact enumeration.
_JOINT_TAIL = 1e-12
#: Test-statistic values this close to the observed one count as equal (fit tolerance).
_Q_TOL = 1e-5


class LimitResult(NamedTuple):
    """Excluded range of the coupling d at one mass.

    Attributes:
        d_low: lower edge [GeV^-1] of the excluded range (too few decays below it); None if
            nothing on the grid is excluded. The first grid point if excluded already there
            (then ``low_open`` is True).
        d_high: upper edge [GeV^-1] (HNLs decay before the TPCs above it); None if nothing
            is excluded; the last grid point if excluded there (``high_open``).
        cl: confidence level (0.95 for a 95% CL limit, i.e. CLs < 0.05).
        cls_low: CLs at ``d_low`` (1 - cl at a root, the grid value at an open edge).
        cls_high: CLs at ``d_high``.
        low_open: the exclusion extends below the grid.
        high_open: the exclusion extends above the grid.
        intervals: every excluded interval [GeV^-1] found on the grid, in increasing d
            (more than one if the excluded region has holes).
        d_grid: the scanned couplings [GeV^-1].
        cls_grid: CLs at each grid point.
    """

    d_low: float | None
    d_high: float | None
    cl: float
    cls_low: float | None
    cls_high: float | None
    low_open: bool
    high_open: bool
    intervals: tuple[tuple[float, float], ...]
    d_grid: NDArray[np.float64]
    cls_grid: NDArray[np.float64]


# --------------------------------------------------------------------------- workspaces


def cls(
    workspace_or_model: pyhf.Workspace | pyhf.pdf.Model,
    *,
    data: ArrayLike | None = None,
    mu: float = 1.0,
    calctype: CalcType = "exact",
    test_stat: TestStat = "qtilde",
    ntoys: int = 2000,
) -> float:
    """CLs of the signal hypothesis mu (mu = 1: the signal as given).

    Args:
        workspace_or_model: a workspace (its observations are the data) or a pyhf model.
        data: main + auxiliary data; required with a model, overrides a workspace's.
        mu: signal strength tested.
        calctype: ``"exact"`` (Poisson enumeration, the infinite-toy limit of pyhf's toy
            calculator), ``"asymptotics"``, ``"asymptotics_clsb"`` (returns the asymptotic
            CLs+b instead of CLs: the one-sided Wilks criterion of the published analysis,
            0.5 * 1.645^2 = 1.353 signal events for nothing observed) or ``"toybased"``.
        test_stat: pyhf test statistic, ``"qtilde"`` (default) or ``"q"``.
        ntoys: toys per hypothesis for ``"toybased"``.

    Returns:
        CLs (dimensionless); the point is excluded at 95% CL if CLs < 0.05.

    Raises:
        InputError: bad ``calctype``/``test_stat``, or a model without data.
    """
    model, obs = _model_and_data(workspace_or_model, data)
    check_choice("test_stat", test_stat, ("qtilde", "q"))
    if calctype == "exact":
        return _exact_cls(model, obs, float(mu), test_stat)
    if calctype == "asymptotics":
        return float(pyhf.infer.hypotest(mu, obs, model, test_stat=test_stat))
    if calctype == "asymptotics_clsb":
        _, (clsb, _) = pyhf.infer.hypotest(
            mu, obs, model, test_stat=test_stat, return_tail_probs=True
        )
        return float(clsb)
    if calctype == "toybased":
        return float(
            pyhf.infer.hypotest(
                mu,
                obs,
                model,
                test_stat=test_stat,
                calctype="toybased",
                ntoys=int(ntoys),
                track_progress=False,
            )
        )
    msg = (
        "calctype must be one of exact, asymptotics, asymptotics_clsb, toybased; "
        f"got {calctype!r}"
    )
    raise InputError(msg)


def upper_limit(
    workspace_or_model: pyhf.Workspace | pyhf.pdf.Model,
    *,
    data: ArrayLike | None = None,
    cl: float = 0.95,
    calctype: CalcType = "exact",
    test_stat: TestStat = "qtilde",
    mu_range: tuple[float, float] = (1e-3, 1e3),
) -> float:
    """Upper limit on the signal strength mu: CLs(mu) = 1 - cl, root-found in ln mu.

    Args:
        workspace_or_model: a workspace or a pyhf model.
        data: data (required with a model).
        cl: confidence level.
        calctype: see :func:`cls` (``"toybased"`` is too noisy for root finding).
        test_stat: pyhf test statistic.
        mu_range: bracket of mu searched; the POI bounds of the model are widened to it.

    Returns:
        mu at the limit (multiply by the signal to get events).

    Raises:
        InputError: CLs does not cross 1 - cl inside ``mu_range``.
    """
    model, obs = _model_and_data(workspace_or_model, data)
    model = _widen_poi(model, mu_range[1])
    alpha = 1.0 - cl

    def excess(log_mu: float) -> float:
        return (
            cls(model, data=obs, mu=math.exp(log_mu), calctype=calctype, test_stat=test_stat)
            - alpha
        )

    lo, hi = math.log(mu_range[0]), math.log(mu_range[1])
    f_lo, f_hi = excess(lo), excess(hi)
    if not (f_lo > 0 > f_hi):
        msg = f"CLs - {alpha:g} does not change sign for mu in {mu_range}: {f_lo:g}, {f_hi:g}"
        raise InputError(msg)
    return math.exp(optimize.brentq(excess, lo, hi, xtol=1e-8, rtol=1e-10))


def expected_cls(
    workspace_or_model: pyhf.Workspace | pyhf.pdf.Model,
    *,
    mu: float = 1.0,
    calctype: CalcType = "asymptotics",
    test_stat: TestStat = "qtilde",
) -> float:
    """Median expected CLs: CLs of mu on background-only Asimov data (nominal nuisances).

    Args:
        workspace_or_model: a workspace or a pyhf model (the observations are not used).
        mu: signal strength tested.
        calctype: see :func:`cls`; ``"asymptotics"`` is the usual Asimov sensitivity.
        test_stat: pyhf test statistic.

    Returns:
        expected CLs (dimensionless).
    """
    model = _as_model(workspace_or_model)
    return cls(model, data=_asimov_background(model), mu=mu, calctype=calctype, test_stat=test_stat)


def significance_of_exclusion(
    signal: Counts | float,
    background: Counts | float | None = None,
    *,
    flux_xsec: float | None = None,
) -> float:
    """Significance [σ] with which the signal would be excluded on background-only Asimov data.

    Z = √q̃₁ with q̃₁ = -2 ln[L(mu=1)/L(mu-hat)] evaluated by pyhf on the Asimov data n = b
    (Cowan et al. arXiv:1007.1727; for known b, Z² = Σ_c 2 (s_c - b_c ln(1 + s_c/b_c)),
    see :func:`cowan_exclusion_significance`).

    Args:
        signal: expected signal events (per channel, or one number for one channel).
        background: expected background events (same form; default 0).
        flux_xsec: relative signal normalisation uncertainty (None for none).

    Returns:
        Z [σ]; e.g. 5σ exclusion ⇔ Z ≥ 5.
    """
    sig = _as_counts(signal)
    bkg = _as_counts(background) if background is not None else None
    model, _ = _counting_model(sig, background=bkg, observed=None, flux_xsec=flux_xsec,
                               mu_max=10.0)
    asimov = _asimov_background(model)
    q = _test_stat(model, asimov, 1.0, "qtilde")
    return math.sqrt(max(q, 0.0))


def cowan_exclusion_significance(signal: Counts | float, background: Counts | float) -> float:
    """Asimov exclusion significance for known b: Z = √(Σ_c 2 (s_c - b_c ln(1 + s_c/b_c))).

    Args:
        signal: expected signal events (per channel, or one number).
        background: expected background events (same form; b = 0 gives Z² = 2 s).

    Returns:
        Z [σ].
    """
    sig = _as_counts(signal)
    bkg = _as_counts(background)
    z2 = 0.0
    for ch, s in sig.items():
        b = bkg.get(ch, 0.0)
        z2 += 2.0 * (s - b * math.log1p(s / b)) if b > 0 else 2.0 * s
    return math.sqrt(z2)


def make_cls_fn(
    *,
    background: Counts | None = None,
    observed: Counts | None = None,
    flux_xsec: float | None = None,
    calctype: CalcType = "exact",
    test_stat: TestStat = "qtilde",
    expected: bool = False,
) -> Callable[[Counts], float]:
    """A signal → CLs function for :func:`limit_interval`.

    Args:
        background: expected background events per channel (default 0).
        observed: observed events per channel (default 0; ignored with ``expected``).
        flux_xsec: relative signal normalisation uncertainty (default none, as the paper).
        calctype: see :func:`cls`.
        test_stat: pyhf test statistic.
        expected: the median expected CLs on background-only Asimov data instead of the
            observed one (:func:`scaled_cls`).

    Returns:
        a function of the expected signal events per channel returning CLs at mu = 1.
        Without systematics two cases have closed forms, used directly (the values
        :func:`cls` gives, tested, without building a pyhf model each call): with
        ``calctype="exact"`` and nothing observed, CLs = exp(-Σ s); with ``expected`` and
        the asymptotic formulae, the Asimov data are n = b, μ̂ = 0, q̃ = Z² with Z Cowan's
        (:func:`cowan_exclusion_significance`), CLb = 1/2 and CLs+b = Φ̄(Z), so
        CLs = 2 Φ̄(Z).
    """
    closed_form = _closed_form(background=background, observed=observed, flux_xsec=flux_xsec,
                               calctype=calctype, expected=expected)

    def cls_of_signal(signal: Counts) -> float:
        if closed_form is not None:
            _channel_names(signal, background, observed)
            return closed_form(signal)
        return scaled_cls(signal, background=background, observed=observed,
                          flux_xsec=flux_xsec, calctype=calctype, test_stat=test_stat,
                          expected=expected)

    return cls_of_signal


def _closed_form(*, background: Counts | None, observed: Counts | None,
                 flux_xsec: float | None, calctype: CalcType,
                 expected: bool) -> Callable[[Counts], float] | None:
    """CLs of a signal in closed form, where there is one (see :func:`make_cls_fn`)."""
    if flux_xsec:
        return None
    if not expected and calctype == "exact" and (
            observed is None or all(float(n) == 0.0 for n in observed.values())):
        return lambda signal: math.exp(-sum(_count(signal, ch, "signal") for ch in signal))
    factors = {"asymptotics": 2.0, "asymptotics_clsb": 1.0}
    if expected and calctype in factors:
        return lambda signal: factors[calctype] * float(stats.norm.sf(
            cowan_exclusion_significance(signal, background or dict.fromkeys(signal, 0.0))))
    return None


def scaled_cls(
    signal: Counts,
    *,
    background: Counts | None = None,
    observed: Counts | None = None,
    flux_xsec: float | None = None,
    calctype: CalcType = "exact",
    test_stat: TestStat = "qtilde",
    expected: bool = False,
) -> float:
    """CLs of a signal, computed as mu = Σs on a model whose signal sums to one event.

    pyhf's fits break down for signals of 1e3-1e5 events on top of ~0 background (the
    minimiser fails, or returns CLs = 0.5); with the signal normalised to one event and the
    POI bound widened, the same hypothesis (mu = Σs) is tested stably.

    Args:
        signal: expected signal events per channel.
        background: expected background per channel (default 0).
        observed: observed events per channel (default 0).
        flux_xsec: relative signal normsys (default none).
        calctype: see :func:`cls`.
        test_stat: pyhf test statistic.
        expected: median expected CLs on background-only Asimov data instead of observed.

    Returns:
        CLs (CLs+b for ``"asymptotics_clsb"``).
    """
    total = sum(_count(signal, ch, "signal") for ch in signal)
    if total <= 0:
        return 1.0
    unit = {ch: _count(signal, ch, "signal") / total for ch in signal}
    model, observations = _counting_model(unit, background=background, observed=observed,
                                          flux_xsec=flux_xsec, mu_max=10.0 * total)
    data = _asimov_background(model) if expected else observations
    return cls(model, data=data, mu=total, calctype=calctype, test_stat=test_stat)


# --------------------------------------------------------------------------- limits in d


def limit_interval(
    signal_of_d: Callable[[float], Counts],
    d_grid_gev_inv: ArrayLike,
    cls_fn: Callable[[Counts], float],
    *,
    cl: float = 0.95,
) -> LimitResult:
    """Excluded range in d: scan CLs(d) on a grid, root-find CLs = 1 - cl in ln d.

    Args:
        signal_of_d: expected signal events per channel at coupling d [GeV^-1].
        d_grid_gev_inv: couplings [GeV^-1] to scan (positive; a log grid is natural).
        cls_fn: CLs of a signal (e.g. :func:`make_cls_fn`).
        cl: confidence level.

    Returns:
        the :class:`LimitResult`.

    Raises:
        InputError: fewer than two grid points, non-positive couplings, or cl not in (0, 1).
    """
    grid = np.unique(np.asarray(d_grid_gev_inv, dtype=float))
    if grid.size < 2 or not np.all(grid > 0) or not np.all(np.isfinite(grid)):
        msg = "d_grid_gev_inv needs at least two positive, finite couplings"
        raise InputError(msg)
    if not 0.0 < cl < 1.0:
        msg = f"cl must be in (0, 1), got {cl}"
        raise InputError(msg)
    alpha = 1.0 - cl

    def cls_at(d: float) -> float:
        return float(cls_fn(signal_of_d(d)))

    values = np.array([cls_at(float(d)) for d in grid])
    excluded = values < alpha

    def root(i: int) -> float:
        """Crossing between grid points i and i + 1."""
        return math.exp(
            optimize.brentq(
                lambda x: cls_at(math.exp(x)) - alpha,
                math.log(grid[i]),
                math.log(grid[i + 1]),
                xtol=1e-10,
                rtol=1e-10,
            )
        )

    edges: list[float] = []
    if excluded[0]:
        edges.append(float(grid[0]))
    for i in np.flatnonzero(excluded[1:] != excluded[:-1]):
        edges.append(root(int(i)))
    if excluded[-1]:
        edges.append(float(grid[-1]))
    intervals = tuple(zip(edges[::2], edges[1::2], strict=True))
    if not intervals:
        return LimitResult(None, None, cl, None, None, False, False, (), grid, values)
    if len(intervals) > 1:
        logger.warning("the excluded region in d has %d disjoint parts", len(intervals))
    low_open, high_open = bool(excluded[0]), bool(excluded[-1])
    # reported by the caller (a scan once, not once per mass), from the result's flags
    if low_open:
        logger.info("excluded at the lowest grid coupling %g GeV^-1", grid[0])
    if high_open:
        logger.info("excluded at the highest grid coupling %g GeV^-1", grid[-1])
    d_low, d_high = intervals[0][0], intervals[-1][1]
    return LimitResult(
        d_low=d_low,
        d_high=d_high,
        cl=cl,
        cls_low=float(values[0]) if low_open else alpha,
        cls_high=float(values[-1]) if high_open else alpha,
        low_open=low_open,
        high_open=high_open,
        intervals=intervals,
        d_grid=grid,
        cls_grid=values,
    )


# --------------------------------------------------------------------------- internals


def _exact_cls(
    model: pyhf.pdf.Model, data: NDArray[np.float64], mu: float, test_stat: str
) -> float:
    """CLs from the enumerated Poisson outcomes (pyhf's toy construction with infinite toys)."""
    n_main = model.config.nmaindata
    n_obs, aux = data[:n_main], data[n_main:]
    only_poi = model.config.npars == 1
    if only_poi and np.all(n_obs == 0):
        # q̃(0) = 2 Σ s is the maximum of q̃ (docs/statistics.md): CLs = exp(-Σ s).
        s = _rates(model, mu) - _rates(model, 0.0)
        return math.exp(-float(np.sum(s)))
    init, bounds, fixed = _fit_setup(model)
    pars_sb = np.asarray(pyhf.infer.mle.fixed_poi_fit(mu, data, model, init, bounds, fixed))
    pars_b = np.asarray(pyhf.infer.mle.fixed_poi_fit(0.0, data, model, init, bounds, fixed))
    lam_sb = np.asarray(model.expected_actualdata(pars_sb), dtype=float)
    lam_b = np.asarray(model.expected_actualdata(pars_b), dtype=float)
    top = np.maximum.reduce(
        [stats.poisson.isf(_TAIL, lam_sb), stats.poisson.isf(_TAIL, lam_b), np.ceil(n_obs)]
    ).astype(int)
    n_outcomes = int(np.prod(top + 1))
    if n_outcomes > 20000:
        msg = f"exact CLs would enumerate {n_outcomes} outcomes; use calctype='asymptotics'"
        raise InputError(msg)
    q_obs = _test_stat(model, data, mu, test_stat)
    clsb = clb = 0.0
    for outcome in itertools.product(*(range(t + 1) for t in top)):
        n = np.asarray(outcome, dtype=float)
        p_sb = float(np.exp(np.sum(stats.poisson.logpmf(n, lam_sb))))
        p_b = float(np.exp(np.sum(stats.poisson.logpmf(n, lam_b))))
        if p_sb < _JOINT_TAIL and p_b < _JOINT_TAIL:
            continue  # negligible under both hypotheses: skip its two fits
        q = _test_stat(model, np.concatenate([n, aux]), mu, test_stat)
        if q >= q_obs - _Q_TOL * max(1.0, q_obs):
            clsb += p_sb
            clb += p_b
    if clb == 0.0:
        msg = "CLb = 0: the data are impossible under the background-only hypothesis"
        raise InputError(msg)
    return clsb / clb


def _rates(model: pyhf.pdf.Model, mu: float) -> NDArray[np.float64]:
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = mu
    return np.asarray(model.expected_actualdata(pars), dtype=float)


def _test_stat(model: pyhf.pdf.Model, data: ArrayLike, mu: float, test_stat: str) -> float:
    init, bounds, fixed = _fit_setup(model)
    func = (
        pyhf.infer.test_statistics.qmu_tilde
        if test_stat == "qtilde"
        else pyhf.infer.test_statistics.qmu
    )
    return float(func(mu, np.asarray(data, dtype=float), model, init, bounds, fixed))


def _fit_setup(model: pyhf.pdf.Model) -> tuple[list[float], list[tuple[float, float]], list[bool]]:
    return (
        model.config.suggested_init(),
        model.config.suggested_bounds(),
        model.config.suggested_fixed(),
    )


def _asimov_background(model: pyhf.pdf.Model) -> NDArray[np.float64]:
    """Background-only Asimov data: expected main data at mu = 0, nominal auxiliary data."""
    pars = np.asarray(model.config.suggested_init(), dtype=float)
    pars[model.config.poi_index] = 0.0
    return np.asarray(model.expected_data(pars), dtype=float)


def _as_model(workspace_or_model: pyhf.Workspace | pyhf.pdf.Model) -> pyhf.pdf.Model:
    if isinstance(workspace_or_model, pyhf.Workspace):
        return workspace_or_model.model(modifier_settings=MODIFIER_SETTINGS)
    if isinstance(workspace_or_model, pyhf.pdf.Model):
        return workspace_or_model
    msg = f"expected a pyhf.Workspace or pyhf.pdf.Model, got {type(workspace_or_model).__name__}"
    raise InputError(msg)


def _model_and_data(
    workspace_or_model: pyhf.Workspace | pyhf.pdf.Model, data: ArrayLike | None
) -> tuple[pyhf.pdf.Model, NDArray[np.float64]]:
    model = _as_model(workspace_or_model)
    if data is None:
        if not isinstance(workspace_or_model, pyhf.Workspace):
            msg = "data are required when a pyhf model (not a workspace) is given"
            raise InputError(msg)
        data = workspace_or_model.data(model)
    obs = np.asarray(data, dtype=float)
    expected = model.config.nmaindata + model.config.nauxdata
    if obs.shape != (expected,):
        msg = f"data must have {expected} entries (main + auxiliary), got shape {obs.shape}"
        raise InputError(msg)
    return model, obs


def _widen_poi(model: pyhf.pdf.Model, mu_max: float) -> pyhf.pdf.Model:
    """The same model with the POI upper bound raised to at least ``mu_max``."""
    bounds = model.config.suggested_bounds()
    low, high = bounds[model.config.poi_index]
    if high >= mu_max:
        return model
    spec = copy.deepcopy(model.spec)
    poi = model.config.poi_name
    others = [p for p in spec.get("parameters", []) if p.get("name") != poi]
    spec["parameters"] = [*others, {"name": poi, "bounds": [[low, float(mu_max)]]}]
    return pyhf.Model(spec, poi_name=poi, modifier_settings=MODIFIER_SETTINGS, validate=False)
