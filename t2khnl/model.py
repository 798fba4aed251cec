"""The dipole-portal heavy neutral lepton: couplings, widths, decay lengths, e+e- kinematics.

A Dirac HNL N with a transition magnetic moment to nu_mu, L ⊃ d · nu-bar_L σ_{μν} F^{μν} N
+ h.c.: mass ``m_N`` [GeV], coupling ``d`` [GeV^-1] (the paper's d_muN). DarkNews and SIREN
use ``mu_tr_mu4`` = 2 d; :func:`mu_tr_from_d` and :func:`d_from_mu_tr` are the only place
this conversion lives. Widths in GeV, lengths in m; ``convention=`` picks the width:
``"corrected"`` (default, Γ(N -> ν γ) = d² m³ / (4π), from the Lagrangian), ``"darknews"``
(d² m³ / (8π), DarkNews 0.4.8, what the published analysis ran with) or ``"siren"``
(SIREN's C++ ``HNLDipoleDecay``). :func:`br_ee` is Γ(ν e+ e-) / Γ(ν γ) (Kroll–Wada with
the magnetic-dipole vertex), twice DarkNews's own ratio; :func:`ee_fraction_of_decays` the
e+ e- share of the decays a convention's lifetimes count.

Details: docs/darknews.md ("Width conventions in t2khnl.model").
"""

from __future__ import annotations

import functools
import logging
from typing import get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .config import BrEeFormula, WidthConvention, check_choice
from .errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "ALPHA_EM",
    "HBARC_GEV_M",
    "M_ELECTRON_GEV",
    "br_ee",
    "ctau_m",
    "d_from_mu_tr",
    "decay_length_m",
    "ee_decay_angle_pdf",
    "ee_fraction_of_decays",
    "ee_spectrum",
    "mu_tr_from_d",
    "sample_pair",
    "total_width_gev",
    "width_nu_ee_gev",
    "width_nu_gamma_gev",
]

#: ħc [GeV m].
HBARC_GEV_M = 1.973269804e-16
#: Electron mass [GeV] (CODATA 2018).
M_ELECTRON_GEV = 0.51099895000e-3
#: Fine-structure constant at q² = 0 (CODATA 2018).
ALPHA_EM = 1.0 / 137.035999084

#: The constants the paper's authors coded in their BR (TPC/TPC_Extract.ipynb).
_ALPHA_PUBLISHED = 1.0 / 137.0
_M_ELECTRON_PUBLISHED_GEV = 0.511e-3

_CONVENTIONS: tuple[str, ...] = get_args(WidthConvention)
_FORMULAS: tuple[str, ...] = get_args(BrEeFormula)

# Γ(N -> ν γ) = d² m³ / (_WIDTH_DENOMINATOR · π).
_WIDTH_DENOMINATOR = {"corrected": 4.0, "darknews": 8.0, "siren": 4.0}


# --------------------------------------------------------------------------- couplings
def mu_tr_from_d(d_gev_inv: ArrayLike) -> NDArray[np.float64] | float:
    """DarkNews/SIREN ``mu_tr_mu4`` [GeV^-1] from the dipole coupling d [GeV^-1]: mu_tr = 2 d.

    Args:
        d_gev_inv: dipole coupling d_muN [GeV^-1].

    Returns:
        mu_tr [GeV^-1], same shape as the input.

    >>> mu_tr_from_d(5e-7)
    1e-06
    """
    return 2.0 * _as_float_array(d_gev_inv, "d_gev_inv", allow_zero=True)


def d_from_mu_tr(mu_tr_gev_inv: ArrayLike) -> NDArray[np.float64] | float:
    """Dipole coupling d [GeV^-1] from DarkNews/SIREN ``mu_tr_mu4`` [GeV^-1]: d = mu_tr / 2.

    Args:
        mu_tr_gev_inv: DarkNews transition magnetic moment mu_tr [GeV^-1].

    Returns:
        d [GeV^-1], same shape as the input.

    >>> d_from_mu_tr(2.5e-6)
    1.25e-06
    """
    return 0.5 * _as_float_array(mu_tr_gev_inv, "mu_tr_gev_inv", allow_zero=True)


# --------------------------------------------------------------------------- widths
def width_nu_gamma_gev(
    mass_gev: ArrayLike, d_gev_inv: ArrayLike, convention: WidthConvention = "corrected"
) -> NDArray[np.float64] | float:
    """Partial width Γ(N -> ν γ) [GeV] of the Dirac dipole HNL.

    Args:
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d [GeV^-1] (not mu_tr).
        convention: ``"corrected"`` d² m³/(4π); ``"darknews"`` d² m³/(8π) (DarkNews 0.4.8
            Dirac, used by the published SIREN+DarkNews run); ``"siren"`` SIREN C++
            ``HNLDipoleDecay`` d² m³/(4π). See the module docstring.

    Returns:
        Γ [GeV], broadcast over the inputs.

    DarkNews's width is half the corrected one:

    >>> float(width_nu_gamma_gev(0.47, 1e-6, "darknews") / width_nu_gamma_gev(0.47, 1e-6))
    0.5
    """
    check_choice("convention", convention, _CONVENTIONS)
    m = _as_float_array(mass_gev, "mass_gev")
    d = _as_float_array(d_gev_inv, "d_gev_inv", allow_zero=True)
    return d**2 * m**3 / (_WIDTH_DENOMINATOR[convention] * np.pi)


def width_nu_ee_gev(
    mass_gev: ArrayLike, d_gev_inv: ArrayLike, convention: WidthConvention = "corrected"
) -> NDArray[np.float64] | float:
    """Partial width Γ(N -> ν e+ e-) [GeV] via the virtual photon: Γ(ν γ) · :func:`br_ee`.

    Args:
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d [GeV^-1].
        convention: width convention of the ν γ width it scales (see
            :func:`width_nu_gamma_gev`); the ratio is always the exact one.

    Returns:
        Γ [GeV].
    """
    return width_nu_gamma_gev(mass_gev, d_gev_inv, convention) * br_ee(mass_gev, "exact")


def total_width_gev(
    mass_gev: ArrayLike, d_gev_inv: ArrayLike, convention: WidthConvention = "corrected"
) -> NDArray[np.float64] | float:
    """Total width [GeV] used for the HNL lifetime.

    ``"corrected"``: Γ(ν γ) + Γ(ν e+ e-) (other channels are negligible for a pure dipole
    HNL below the muon-pair threshold and suppressed by further powers of α above it).
    ``"darknews"`` and ``"siren"``: Γ(ν γ) alone, as the simulation with
    ``decay_product="photon"`` (resp. SIREN's C++ decay) has it.

    Args:
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d [GeV^-1].
        convention: see :func:`width_nu_gamma_gev`.

    Returns:
        Γ_total [GeV].
    """
    gamma = width_nu_gamma_gev(mass_gev, d_gev_inv, convention)
    if convention == "corrected":
        return gamma * (1.0 + br_ee(mass_gev, "exact"))
    return gamma


def ctau_m(
    mass_gev: ArrayLike, d_gev_inv: ArrayLike, convention: WidthConvention = "corrected"
) -> NDArray[np.float64] | float:
    """Proper decay length cτ = ħc / Γ_total [m].

    Args:
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d [GeV^-1], > 0.
        convention: see :func:`total_width_gev`.

    Returns:
        cτ [m].
    """
    _as_float_array(d_gev_inv, "d_gev_inv")  # d = 0 would be an infinite lifetime
    return HBARC_GEV_M / total_width_gev(mass_gev, d_gev_inv, convention)


def decay_length_m(
    mass_gev: ArrayLike,
    d_gev_inv: ArrayLike,
    momentum_gev: ArrayLike,
    convention: WidthConvention = "corrected",
) -> NDArray[np.float64] | float:
    """Mean lab-frame decay length βγ cτ = (|p| / m_N) · ħc / Γ_total [m].

    Args:
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d [GeV^-1], > 0.
        momentum_gev: HNL lab momentum |p| [GeV], >= 0.
        convention: see :func:`total_width_gev`.

    Returns:
        decay length [m], broadcast over the inputs.
    """
    p = _as_float_array(momentum_gev, "momentum_gev", allow_zero=True)
    m = _as_float_array(mass_gev, "mass_gev")
    return p / m * ctau_m(mass_gev, d_gev_inv, convention)


# --------------------------------------------------------------------------- e+e- branching
def br_ee(mass_gev: ArrayLike, formula: BrEeFormula = "exact") -> NDArray[np.float64] | float:
    """Γ(N -> ν e+ e-) / Γ(N -> ν γ), the Dalitz-like ratio for the magnetic-dipole vertex.

    ``"exact"``: (α/3π) ∫ dx/x (1-x)² (1+x/2) (1+2r²/x) √(1-4r²/x), x = q²/m_N² from 4r²
    to 1, r = m_e/m_N. In closed form, with a = 4r² = 4 m_e²/m_N² and β = √(1-a),

        (α/3π) [(2 - a³/8) arccosh(1/√a) - (24 - 10a + a²)/8 · β]  (~ (12/35) β⁷ at threshold).

    Note: PHYSICS.md (and the authors' code) write the polynomials in r instead of a = 4r²,
    i.e. (2 - r⁶/8) and (24 - 10r² + r⁴); that expression is not the integral: it is low by
    1.3e-5 (relative) at 100 MeV, 0.3% at 10 MeV and negative just above threshold. Zero at
    and below m_N = 2 m_e. 0.585% at 100 MeV, 0.834% at 500 MeV, 0.941% at 1 GeV.

    ``"published"``: exactly what the paper's authors coded (mingshauliu/Dipole-HNL-T2K,
    TPC/TPC_Extract.ipynb, ``def BR(m)``): α = 1/137, m_e = 0.511 MeV, r = m_e/m_N,
    (α/3π) [(2 - r⁶/8) arccosh(1/r) - (24 - 10r² + r⁴)/8 · √(1 - 4r²)]: arccosh(1/r)
    instead of arccosh(1/(2r)), and polynomials in r instead of 4r². It exceeds the exact
    ratio by ≈ (α/3π)·2 ln 2 ≈ 1.07e-3 (+10% at 2 GeV to +23% at 50 MeV), does not vanish
    at threshold, and is NaN below m_N = 2 × 0.511 MeV, as the authors' numpy expression is.

    Args:
        mass_gev: HNL mass m_N [GeV].
        formula: ``"exact"`` or ``"published"``.

    Returns:
        the ratio (dimensionless), broadcast over ``mass_gev``.
    """
    check_choice("formula", formula, _FORMULAS)
    m = _as_float_array(mass_gev, "mass_gev")
    if formula == "published":
        r = _M_ELECTRON_PUBLISHED_GEV / m
        with np.errstate(invalid="ignore"):
            big_l = (2 - r**6 / 8) * np.arccosh(1 / r) - (24 - 10 * r**2 + r**4) / 8 * np.sqrt(
                1 - 4 * r**2
            )
        return _ALPHA_PUBLISHED * big_l / (3 * np.pi)
    a = np.minimum(4 * (M_ELECTRON_GEV / m) ** 2, 1.0)
    return ALPHA_EM / (3 * np.pi) * _dalitz_integral(a)


def ee_fraction_of_decays(
    mass_gev: ArrayLike, width_convention: WidthConvention = "corrected",
    formula: BrEeFormula = "exact",
) -> NDArray[np.float64] | float:
    """Γ(ν e+ e-) / Γ_total with the total width a sample's lifetimes were computed with.

    ``"corrected"``: Γ_total = Γ(ν γ) (1 + R_exact) (:func:`total_width_gev`), so the
    fraction is R / (1 + R_exact) with R = ``br_ee(m, formula)``. ``"darknews"`` and
    ``"siren"``: the lifetime knows Γ(ν γ) alone and the fraction is R (the e+ e- decays
    counted on top, as the published analysis does).

    Args:
        mass_gev: HNL mass m_N [GeV].
        width_convention: the width convention of the decay lengths (:func:`ctau_m`).
        formula: the ratio R (:func:`br_ee`).

    Returns:
        the fraction (dimensionless), broadcast over ``mass_gev``.

    >>> r = br_ee(0.5)
    >>> bool(ee_fraction_of_decays(0.5) == r / (1 + r)), ee_fraction_of_decays(0.5, "darknews") == r
    (True, True)
    """
    check_choice("convention", width_convention, _CONVENTIONS)
    ratio = br_ee(mass_gev, formula)
    if width_convention == "corrected":
        return ratio / (1.0 + br_ee(mass_gev, "exact"))
    return ratio


def ee_spectrum(x: ArrayLike, mass_gev: float) -> NDArray[np.float64]:
    """d[Γ(ν e+ e-)/Γ(ν γ)]/dx with x = q²/m_N² = m_ee²/m_N² (zero outside 4r² < x < 1).

    (α/3π) (1/x) (1-x)² (1+x/2) (1+2r²/x) √(1-4r²/x), r = m_e/m_N; integrates to
    :func:`br_ee` (``"exact"``).

    Args:
        x: q²/m_N².
        mass_gev: HNL mass m_N [GeV].

    Returns:
        the density, same shape as ``x``.
    """
    m = float(_as_float_array(mass_gev, "mass_gev"))
    xs = np.asarray(x, dtype=float)
    r2 = (M_ELECTRON_GEV / m) ** 2
    inside = (xs > 4 * r2) & (xs < 1)
    xi = np.where(inside, xs, 0.5)
    return np.where(inside, ALPHA_EM / (3 * np.pi) / xi * _dalitz_kernel(xi, r2), 0.0)


def ee_decay_angle_pdf(cos_theta: ArrayLike, x: ArrayLike, mass_gev: float) -> NDArray[np.float64]:
    """Normalised density of cos θ*, the e- angle to the γ* direction in the γ* rest frame.

    W(c) ∝ [1 + c² + (1-β²)(1-c²)] + x (1 - β² c²), β² = 1 - 4 m_e²/q², x = q²/m_N²: the
    transverse (helicity ±1) and longitudinal γ* -> e+ e- distributions weighted
    Γ_L/Γ_T = x/2, as for a magnetic-dipole N -> ν γ* vertex σ^{μν} q_ν with a massless
    ν. Derived here (AFH arXiv:2109.03831 eq. A4 was not accessible) and checked against
    DarkNews's full three-body |M|² (``Amp_TMM_SQR``, Dirac) to < 0.3% in <cos²θ*>. Valid
    for an unpolarised N (or after integrating over the N spin direction).

    Args:
        cos_theta: cos θ* in [-1, 1].
        x: q²/m_N² (broadcast with ``cos_theta``), 4 m_e²/m_N² <= x < 1.
        mass_gev: HNL mass m_N [GeV].

    Returns:
        dP/dcos θ*, normalised to 1 on [-1, 1].
    """
    m = float(_as_float_array(mass_gev, "mass_gev"))
    c = np.asarray(cos_theta, dtype=float)
    a, b = _angle_coefficients(np.asarray(x, dtype=float), m)
    return (a + b * c**2) / (2 * a + 2 * b / 3)


# --------------------------------------------------------------------------- sampling
def sample_pair(
    rng: np.random.Generator,
    hnl_p4_gev: ArrayLike,
    mass_gev: float,
    n: int | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Sample N -> ν e+ e- (via γ*) in the lab frame.

    * q² = x m_N² from :func:`ee_spectrum` (inverse CDF tabulated in ln x);
    * γ* direction isotropic in the N rest frame: the N is taken as **unpolarised**, as the
      published analysis (which read the unpolarised-in-effect photon momenta) and the
      Dalitz BR do. DarkNews/SIREN do carry the N helicity; for a fully polarised N the
      e± directions correlate with the spin (DarkNews |M|², h = -1: <cos θ(e+, spin)> ≈
      -0.33 at small q²), which this sampler ignores;
    * e- direction in the γ* rest frame from :func:`ee_decay_angle_pdf` (e+ opposite),
      uniform azimuth;
    * boosts to the N rest frame and to the lab (β = p_N/E_N).

    Args:
        rng: numpy random generator.
        hnl_p4_gev: HNL lab four-momenta (E, px, py, pz) [GeV], shape (n, 4) or (4,).
        mass_gev: HNL mass m_N [GeV] (> 2 m_e); must match the four-momenta's invariant
            mass to 1e-6 relative.
        n: number of decays when ``hnl_p4_gev`` is a single four-momentum (default 1);
            must equal the number of rows otherwise.

    Returns:
        (e_plus_p4, e_minus_p4, nu_p4), each shape (n, 4), lab frame [GeV].

    Raises:
        InputError: bad shapes, a mass at or below 2 m_e, or four-momenta off the HNL
            mass shell.
    """
    m = float(_as_float_array(mass_gev, "mass_gev"))
    if m <= 2 * M_ELECTRON_GEV:
        msg = f"mass_gev = {m} GeV is at or below the e+e- threshold {2 * M_ELECTRON_GEV} GeV"
        raise InputError(msg)
    p4 = np.asarray(hnl_p4_gev, dtype=float)
    if p4.ndim == 1:
        if p4.shape != (4,):
            msg = f"hnl_p4_gev must have shape (n, 4) or (4,), got {p4.shape}"
            raise InputError(msg)
        p4 = np.broadcast_to(p4, (1 if n is None else int(n), 4))
    if p4.ndim != 2 or p4.shape[1] != 4:
        msg = f"hnl_p4_gev must have shape (n, 4) or (4,), got {p4.shape}"
        raise InputError(msg)
    if n is not None and int(n) != p4.shape[0]:
        msg = f"n = {n} does not match the {p4.shape[0]} HNL four-momenta given"
        raise InputError(msg)
    size = p4.shape[0]
    if size == 0:
        empty = np.empty((0, 4))
        return empty, empty.copy(), empty.copy()
    if not np.all(np.isfinite(p4)):
        msg = "hnl_p4_gev contains non-finite values"
        raise InputError(msg)
    m2_in = p4[:, 0] ** 2 - np.sum(p4[:, 1:] ** 2, axis=1)
    if np.any(np.abs(m2_in - m**2) > 2e-6 * np.maximum(m**2, 1e-12) + 1e-12 * p4[:, 0] ** 2):
        worst = np.sqrt(np.abs(m2_in)).flat[np.argmax(np.abs(m2_in - m**2))]
        msg = f"hnl_p4_gev is off the mass shell of mass_gev = {m} GeV (e.g. m = {worst} GeV)"
        raise InputError(msg)

    # q² = x m², then the two-body N -> ν γ* kinematics in the N rest frame.
    x = _sample_x(rng, m, size)
    q = m * np.sqrt(x)
    p_star = 0.5 * m * (1 - x)
    dir_gamma = _isotropic(rng, size)
    gamma_rest = np.column_stack([np.sqrt(q**2 + p_star**2), p_star[:, None] * dir_gamma])
    nu_rest = np.column_stack([p_star, -p_star[:, None] * dir_gamma])

    # e- in the γ* rest frame, polar angle to the γ* flight direction.
    cos_t = _sample_cos_theta(rng, x, m)
    sin_t = np.sqrt(np.clip(1 - cos_t**2, 0.0, None))
    phi = rng.uniform(0.0, 2 * np.pi, size)
    e1, e2 = _orthonormal_basis(dir_gamma)
    n_e = (
        cos_t[:, None] * dir_gamma
        + (sin_t * np.cos(phi))[:, None] * e1
        + (sin_t * np.sin(phi))[:, None] * e2
    )
    e_energy = 0.5 * q
    e_mom = np.sqrt(np.clip(e_energy**2 - M_ELECTRON_GEV**2, 0.0, None))
    e_minus_gs = np.column_stack([e_energy, e_mom[:, None] * n_e])
    e_plus_gs = np.column_stack([e_energy, -e_mom[:, None] * n_e])

    beta_gs = gamma_rest[:, 1:] / gamma_rest[:, :1]
    gamma_gs = gamma_rest[:, 0] / q
    e_minus_rest = _boost(e_minus_gs, beta_gs, gamma_gs)
    e_plus_rest = _boost(e_plus_gs, beta_gs, gamma_gs)

    beta_n = p4[:, 1:] / p4[:, :1]
    gamma_n = p4[:, 0] / m
    return (
        _boost(e_plus_rest, beta_n, gamma_n),
        _boost(e_minus_rest, beta_n, gamma_n),
        _boost(nu_rest, beta_n, gamma_n),
    )


# --------------------------------------------------------------------------- internals
def _as_float_array(
    value: ArrayLike, name: str, *, allow_zero: bool = False
) -> NDArray[np.float64] | float:
    """Validate a non-negative (or positive) finite numeric input; return float or array."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be numeric, got {value!r}"
        raise InputError(msg) from exc
    if not np.all(np.isfinite(arr)):
        msg = f"{name} must be finite, got {value!r}"
        raise InputError(msg)
    bad = arr < 0 if allow_zero else arr <= 0
    if np.any(bad):
        bound = "non-negative" if allow_zero else "positive"
        msg = f"{name} must be {bound}, got {value!r}"
        raise InputError(msg)
    return float(arr) if arr.ndim == 0 else arr


def _dalitz_integral(a: NDArray[np.float64] | float) -> NDArray[np.float64] | float:
    """∫ dx/x (1-x)² (1+x/2) (1+a/(2x)) √(1-a/x) from x = a to 1, for 0 <= a <= 1.

    Closed form (2 - a³/8) artanh β - (24 - 10a + a²) β / 8 with β = √(1-a) (artanh β =
    arccosh(1/√a)); for β < 0.1, where the closed form cancels to O(β⁷), its Taylor series
    Σ_{k>=3} c_k β^(2k+1), c_k = [15/(2k+1) + 3/(2k-1) - 3/(2k-3) + 1/(2k-5)] / 8.
    """
    a_arr = np.asarray(a, dtype=float)
    beta = np.sqrt(np.clip(1 - a_arr, 0.0, 1.0))
    with np.errstate(divide="ignore"):
        closed = (2 - a_arr**3 / 8) * np.arctanh(np.minimum(beta, 1 - 1e-16)) - (
            24 - 10 * a_arr + a_arr**2
        ) / 8 * beta
    series = np.zeros_like(beta)
    for k in range(3, 12):
        coef = (15 / (2 * k + 1) + 3 / (2 * k - 1) - 3 / (2 * k - 3) + 1 / (2 * k - 5)) / 8
        series = series + coef * beta ** (2 * k + 1)
    out = np.where(beta < 0.1, series, closed)
    return float(out) if out.ndim == 0 else out


def _dalitz_kernel(x: NDArray[np.float64], r2: float) -> NDArray[np.float64]:
    """x · dR/dx / (α/3π) = (1-x)² (1+x/2) (1+2r²/x) √(1-4r²/x), with r² = (m_e/m_N)²."""
    return (1 - x) ** 2 * (1 + x / 2) * (1 + 2 * r2 / x) * np.sqrt(np.clip(1 - 4 * r2 / x, 0, None))


def _angle_coefficients(
    x: NDArray[np.float64], mass_gev: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """W(c) = a + b c² for the e- angle in the γ* frame (see :func:`ee_decay_angle_pdf`)."""
    beta2 = np.clip(1 - 4 * (M_ELECTRON_GEV / mass_gev) ** 2 / x, 0.0, 1.0)
    return 2 - beta2 + x, beta2 * (1 - x)


@functools.lru_cache(maxsize=64)
def _x_table(mass_gev: float, nodes: int = 4097) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Cumulative of x·ee_spectrum(x) in y = ln x, on nodes dense near the threshold."""
    r2 = (M_ELECTRON_GEV / mass_gev) ** 2
    y0, y1 = np.log(4 * r2), 0.0
    s = np.linspace(0.0, 1.0, nodes)
    y = y0 + (y1 - y0) * s**2  # √(y - y0) behaviour at threshold: quadratic node spacing
    xs = np.exp(y)
    g = _dalitz_kernel(xs, r2)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * np.diff(y))])
    cdf /= cdf[-1]
    cdf.setflags(write=False)
    y.setflags(write=False)
    return y, cdf


def _sample_x(rng: np.random.Generator, mass_gev: float, size: int) -> NDArray[np.float64]:
    y, cdf = _x_table(mass_gev)
    x = np.exp(np.interp(rng.random(size), cdf, y))
    r2 = (M_ELECTRON_GEV / mass_gev) ** 2
    return np.clip(x, 4 * r2, 1.0)


def _sample_cos_theta(
    rng: np.random.Generator, x: NDArray[np.float64], mass_gev: float
) -> NDArray[np.float64]:
    """Invert F(c) = [a(c+1) + b(c³+1)/3] / (2a + 2b/3) by Newton's method (F' >= a > 0)."""
    a, b = _angle_coefficients(x, mass_gev)
    target = (2 * rng.random(x.shape) - 1) * (a + b / 3)  # a c + b c³/3 = target
    c = target / (a + b / 3)
    for _ in range(50):
        step = (a * c + b * c**3 / 3 - target) / (a + b * c**2)
        c = np.clip(c - step, -1.0, 1.0)
        if np.max(np.abs(step)) < 1e-14:
            break
    else:  # pragma: no cover - W varies by at most 2x, Newton converges in a few steps
        logger.warning("cos θ* inversion did not converge to 1e-14")
    return c


def _isotropic(rng: np.random.Generator, size: int) -> NDArray[np.float64]:
    cos_t = rng.uniform(-1.0, 1.0, size)
    phi = rng.uniform(0.0, 2 * np.pi, size)
    sin_t = np.sqrt(1 - cos_t**2)
    return np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])


def _orthonormal_basis(
    axis: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Two unit vectors orthogonal to each unit vector in ``axis`` and to each other."""
    helper = np.where(np.abs(axis[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    return e1, np.cross(axis, e1)


def _boost(
    p4: NDArray[np.float64], beta: NDArray[np.float64], gamma: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Boost four-vectors ``p4`` (n, 4) from a frame moving with velocity ``beta`` (n, 3).

    ``gamma`` (n,) is passed in (E/m of the moving frame) rather than recomputed from β,
    which would lose precision at large boosts.
    """
    bp = np.sum(beta * p4[:, 1:], axis=1)
    # (γ - 1)/β² written as γ²/(γ + 1) to stay finite at β -> 0.
    coef = gamma**2 / (gamma + 1.0) * bp + gamma * p4[:, 0]
    energy = gamma * (p4[:, 0] + bp)
    return np.column_stack([energy, p4[:, 1:] + coef[:, None] * beta])
