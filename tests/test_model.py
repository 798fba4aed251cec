"""Tests of t2khnl.model against independent values: closed forms, quadrature, DarkNews
function calls, explicit Dirac algebra, PHYSICS.md numbers and limit cases."""

from __future__ import annotations

import importlib
import itertools
import warnings
from types import SimpleNamespace

import _dirac
import numpy as np
import pytest
from scipy import integrate

from t2khnl import model
from t2khnl.errors import InputError

ME = model.M_ELECTRON_GEV


def _darknews(submodule: str):
    """Import a DarkNews submodule; DarkNews 0.4.8 itself warns (np.matrix) on import."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return importlib.import_module(f"DarkNews.{submodule}")


# --------------------------------------------------------------------------- helpers
def _darknews_three_body(mass: float, tih: float, n: int = 200_000, seed: int = 3):
    """DarkNews 0.4.8 Dirac TMM three-body |M|² integrated by plain MC over its own phase space.

    Returns (Γ [GeV], x = t/m², cos θ*, weights) with θ* the e- angle to the γ* direction
    in the γ* frame, computed from invariants.
    """
    decay_rates, phase_space = _darknews("decay_rates"), _darknews("phase_space")
    theory = SimpleNamespace(has_vector_coupling=False, has_scalar_coupling=False, has_TMM=True)
    process = SimpleNamespace(
        m_parent=mass, mm=ME, mp=ME, m_daughter=0.0, CC_mixing1=0, CC_mixing2=0,
        Cih=0, Dih=0, Sih=0, Tih=tih, Cv=0, Ca=0, Dv=0, Da=0, Ds=0, Dp=0,
        mzprime=1e3, mhprime=1e3, HNLtype="dirac", TheoryModel=theory,
    )  # fmt: skip
    masses = np.array([mass, ME, ME, 0.0])
    rng = np.random.default_rng(seed)
    u01 = rng.random((n, 4))
    tmin, tmax = phase_space.three_body_tmin(*masses), phase_space.three_body_tmax(*masses)
    t = np.exp(np.log(tmin) + np.log(tmax / tmin) * u01[:, 0])
    umin = phase_space.three_body_umin(*masses, t)
    umax = phase_space.three_body_umax(*masses, t)
    u = umin + (umax - umin) * u01[:, 1]
    v = np.sum(masses**2) - u - t
    c3, phi34 = 2 * u01[:, 2] - 1, 2 * np.pi * u01[:, 3]
    w = np.zeros(n)
    for h in (-1, 1):  # unpolarised N: average the two helicities
        process.h_parent = h
        w += 0.5 * decay_rates.diff_gamma_Ni_to_Nj_ell_ell(
            [t, u, v, c3, phi34], process, diagrams=["TMM_SQR"]
        )
    w *= t * np.log(tmax / tmin) * (umax - umin) * 2 * 2 * np.pi  # jacobians
    e_half = np.sqrt(t) / 2
    beta = np.sqrt(1 - 4 * ME**2 / t)
    e_nu = (mass**2 - t) / (2 * np.sqrt(t))
    cos_star = ((u - ME**2) / (2 * e_nu * e_half) - 1) / beta
    return w.mean(), t / mass**2, cos_star, w


@pytest.fixture(scope="module")
def darknews_3body_500mev():
    return _darknews_three_body(0.5, tih=1.0)


# --------------------------------------------------------------------------- couplings
def test_coupling_conversion():
    assert model.d_from_mu_tr(2.5e-6) == pytest.approx(1.25e-6, rel=1e-15)
    assert model.mu_tr_from_d(3.87e-7) == pytest.approx(7.74e-7, rel=1e-15)
    d = np.geomspace(1e-8, 1e-4, 7)
    np.testing.assert_allclose(model.d_from_mu_tr(model.mu_tr_from_d(d)), d, rtol=1e-15)
    with pytest.raises(InputError):
        model.d_from_mu_tr(-1.0)


def test_darknews_vertex_is_d():
    """DarkNews's dipole vertex t_aj equals our d = mu_tr/2."""
    dn_model = _darknews("model")
    d = 1.3e-6
    theory = dn_model.ThreePortalModel(m4=0.3, mu_tr_mu4=model.mu_tr_from_d(d), HNLtype="dirac")
    assert theory.t_aj[1, 3] == pytest.approx(d, rel=1e-14)


# --------------------------------------------------------------------------- widths
@pytest.mark.parametrize("mass", [0.05, 0.3, 1.7])
def test_width_corrected_vs_dirac_algebra(mass):
    d = 2e-6
    assert model.width_nu_gamma_gev(mass, d) == pytest.approx(
        _dirac.width_nu_gamma(mass, d), rel=1e-10
    )
    assert model.width_nu_gamma_gev(mass, d) == pytest.approx(d**2 * mass**3 / (4 * np.pi))


@pytest.mark.parametrize("mass", [0.02, 0.47, 2.0])
def test_width_darknews_convention_vs_darknews(mass):
    """convention="darknews" is DarkNews 0.4.8's Dirac width, the corrected one is twice it."""
    dn_model, pdg, processes = _darknews("model"), _darknews("pdg"), _darknews("processes")
    d = 7e-7
    theory = dn_model.ThreePortalModel(m4=mass, mu_tr_mu4=model.mu_tr_from_d(d), HNLtype="dirac")
    decay = processes.FermionSinglePhotonDecay(
        nu_parent=pdg.neutrino4, nu_daughter=pdg.nulight, TheoryModel=theory
    )
    dn_width = decay.total_width()
    assert model.width_nu_gamma_gev(mass, d, "darknews") == pytest.approx(dn_width, rel=1e-12)
    assert model.width_nu_gamma_gev(mass, d, "corrected") == pytest.approx(2 * dn_width, rel=1e-12)
    assert model.width_nu_gamma_gev(mass, d, "siren") == pytest.approx(2 * dn_width, rel=1e-12)


def test_width_bad_convention():
    with pytest.raises(InputError):
        model.width_nu_gamma_gev(0.1, 1e-6, "majorana")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        model.width_nu_gamma_gev(-0.1, 1e-6)


def test_decay_length():
    hbar_gev_s, c_m_s = 6.582119569e-25, 299_792_458.0
    mass, d, p = 0.47, 1.25e-6, np.array([0.0, 0.5, 3.0])
    gamma_tot = d**2 * mass**3 / (4 * np.pi) * (1 + model.br_ee(mass))
    expected = p / mass * c_m_s * hbar_gev_s / gamma_tot
    np.testing.assert_allclose(model.decay_length_m(mass, d, p), expected, rtol=1e-8)
    # published configuration: DarkNews's ν γ width only, twice as long up to the Dalitz term
    ratio = model.decay_length_m(mass, d, 3.0, "darknews") / model.decay_length_m(mass, d, 3.0)
    assert ratio == pytest.approx(2 * (1 + model.br_ee(mass)), rel=1e-12)
    assert model.ctau_m(mass, d) == pytest.approx(c_m_s * hbar_gev_s / gamma_tot, rel=1e-8)
    with pytest.raises(InputError):
        model.ctau_m(mass, 0.0)


# --------------------------------------------------------------------------- BR(ee)
def _br_quad(mass: float) -> float:
    r2 = (ME / mass) ** 2

    def integrand(y: float) -> float:  # in y = ln x
        x = np.exp(y)
        return (1 - x) ** 2 * (1 + x / 2) * (1 + 2 * r2 / x) * np.sqrt(max(0.0, 1 - 4 * r2 / x))

    val, _ = integrate.quad(integrand, np.log(4 * r2), 0.0, epsabs=0, epsrel=1e-11, limit=200)
    return model.ALPHA_EM / (3 * np.pi) * val


@pytest.mark.parametrize("mass", [1.5e-3, 0.01, 0.1, 0.5, 1.0, 2.0])
def test_br_exact_vs_quadrature(mass):
    assert model.br_ee(mass) == pytest.approx(_br_quad(mass), rel=1e-8)


def test_br_physics_md_numbers_and_threshold():
    np.testing.assert_allclose(
        100 * model.br_ee(np.array([0.1, 0.5, 1.0])), [0.585, 0.834, 0.941], atol=5e-4
    )
    assert model.br_ee(2 * ME) == 0.0
    assert model.br_ee(1.5 * ME) == 0.0
    assert 0 < model.br_ee(2 * ME * (1 + 1e-6)) < 1e-9


def test_ee_spectrum_integrates_to_br():
    mass = 0.3
    r2 = (ME / mass) ** 2
    val, _ = integrate.quad(
        lambda y: np.exp(y) * model.ee_spectrum(np.exp(y), mass), np.log(4 * r2), 0, limit=200
    )
    assert val == pytest.approx(model.br_ee(mass), rel=1e-8)
    assert np.all(model.ee_spectrum([0.5 * 4 * r2, 1.0, 1.5], mass) == 0)


def test_br_published_formula():
    """The authors' BR(m): α = 1/137, m_e = 0.511 MeV, arccosh(1/r) (TPC/TPC_Extract.ipynb)."""
    # hand-evaluated from their expression at m = 0.1 GeV (r = 5.11e-3)
    r = 0.511e-3 / 0.1
    by_hand = (
        (1 / 137) / (3 * np.pi)
        * ((2 - r**6 / 8) * np.arccosh(1 / r) - (24 - 10 * r**2 + r**4) / 8 * np.sqrt(1 - 4 * r**2))
    )  # fmt: skip
    assert model.br_ee(0.1, "published") == pytest.approx(by_hand, rel=1e-14)
    assert model.br_ee(0.1, "published") == pytest.approx(0.0069, abs=1e-4)  # paper: "≈ 0.7%"
    masses = np.geomspace(0.05, 2.0, 400)
    ratio = model.br_ee(masses, "published") / model.br_ee(masses)
    assert np.all(np.diff(ratio) < 0)
    assert ratio[0] == pytest.approx(1.225, abs=2e-3)  # +22.5% at 50 MeV
    assert ratio[-1] == pytest.approx(1.103, abs=2e-3)  # +10.3% at 2 GeV
    # the excess is the constant (α/3π) 2 ln 2 up to the constants the authors used
    excess = model.br_ee(2.0, "published") - model.br_ee(2.0)
    assert excess == pytest.approx(model.ALPHA_EM / (3 * np.pi) * 2 * np.log(2), rel=5e-3)
    with pytest.raises(InputError):
        model.br_ee(0.1, "approx")  # type: ignore[arg-type]


def test_darknews_three_body_ratio_is_half(darknews_3body_500mev):
    """DarkNews's Γ(ν ee)/Γ(ν γ) is br_ee/2: its three-body code halves the vertex again.

    With DarkNews's bookkeeping (Tih = t_aj = d, dij = Tih/2) the three-body width is 1/4
    of the corrected Γ(ν ee); fed dij = d it reproduces the corrected Γ(ν γ)·br_ee.
    """
    decay_rates = _darknews("decay_rates")
    mass, d = 0.5, 1.0  # fixture: Tih = 1 (dij = 0.5)
    width3, *_ = darknews_3body_500mev
    width2 = decay_rates.gamma_Ni_to_Nj_gamma(d, mass, 0.0, HNLtype="dirac")
    assert width3 / width2 == pytest.approx(0.5 * model.br_ee(mass), rel=0.01)
    assert width3 == pytest.approx(0.25 * model.width_nu_ee_gev(mass, d), rel=0.01)
    assert 4 * width3 == pytest.approx(model.width_nu_ee_gev(mass, d), rel=0.01)  # dij = d


def test_angle_pdf_vs_darknews(darknews_3body_500mev):
    """<cos²θ*> of DarkNews's full |M|² in bins of x matches ee_decay_angle_pdf."""
    mass = 0.5
    _, x, cos_star, w = darknews_3body_500mev
    edges = np.geomspace(4 * (ME / mass) ** 2 * 1.01, 1, 6)
    for lo, hi in itertools.pairwise(edges):
        sel = (x > lo) & (x < hi)
        mc = np.sum(w[sel] * cos_star[sel] ** 2) / np.sum(w[sel])
        xs = np.geomspace(lo, hi, 400)
        c = np.linspace(-1, 1, 801)
        pdf = model.ee_decay_angle_pdf(c[None, :], xs[:, None], mass)
        np.testing.assert_allclose(np.trapz(pdf, c, axis=1), 1, rtol=1e-5)
        c2 = np.trapz(pdf * c**2, c, axis=1)
        spec = xs * model.ee_spectrum(xs, mass)  # weight per ln x
        expected = np.sum(spec * c2) / np.sum(spec)
        assert mc == pytest.approx(expected, abs=4e-3)
    # the purely transverse 1 + cos² form would give 0.4 at x -> 0 and the x term lowers it
    assert np.sum(w * cos_star**2) / np.sum(w) < 0.4


# --------------------------------------------------------------------------- sampling
def _minkowski(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a[:, 0] * b[:, 0] - np.sum(a[:, 1:] * b[:, 1:], axis=1)


@pytest.fixture(scope="module")
def rest_frame_sample():
    mass, n = 0.2, 200_000
    rng = np.random.default_rng(12345)
    p4 = np.array([mass, 0.0, 0.0, 0.0])
    return mass, model.sample_pair(rng, p4, mass, n=n)


def test_sample_pair_conservation_and_mass_shell():
    rng = np.random.default_rng(7)
    mass = 0.47
    n = 20_000
    mom = rng.exponential(2.0, n)[:, None] * np.column_stack(
        [rng.normal(0, 0.05, n), rng.normal(0, 0.05, n), np.ones(n)]
    )
    hnl = np.column_stack([np.sqrt(mass**2 + np.sum(mom**2, axis=1)), mom])
    ep, em, nu = model.sample_pair(rng, hnl, mass)
    assert ep.shape == em.shape == nu.shape == (n, 4)
    np.testing.assert_allclose(ep + em + nu, hnl, rtol=0, atol=1e-9 * hnl[:, :1].max())
    assert np.max(np.abs((ep + em + nu - hnl) / hnl[:, :1])) < 1e-9
    for lep in (ep, em):
        assert np.all(np.abs(_minkowski(lep, lep) - ME**2) < 1e-9 * lep[:, 0] ** 2)
        assert np.all(lep[:, 0] >= ME)
    assert np.all(np.abs(_minkowski(nu, nu)) < 1e-9 * nu[:, 0] ** 2)


def test_sample_pair_q2_spectrum(rest_frame_sample):
    mass, (ep, em, _) = rest_frame_sample
    pair = ep + em
    x = _minkowski(pair, pair) / mass**2
    r2 = (ME / mass) ** 2
    assert np.all(x >= 4 * r2 * (1 - 1e-9)) and np.all(x <= 1)
    # binned comparison in ln x with the integrand (χ²/ndf), and the mean of x
    edges = np.geomspace(4 * r2, 1, 26)
    counts, _ = np.histogram(x, edges)
    probs = np.array(
        [integrate.quad(model.ee_spectrum, lo, hi, args=(mass,), limit=100)[0]
         for lo, hi in itertools.pairwise(edges)]
    ) / model.br_ee(mass)  # fmt: skip
    expected = probs * x.size
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 / (len(counts) - 1) < 2.0
    mean_x = integrate.quad(lambda t: t * model.ee_spectrum(t, mass), 4 * r2, 1, limit=200)[0]
    mean_x /= model.br_ee(mass)
    assert x.mean() == pytest.approx(mean_x, rel=4 * x.std() / mean_x / np.sqrt(x.size))


def test_sample_pair_decay_angle(rest_frame_sample):
    """<cos²θ*> of the sample (from invariants) vs the analytic distribution."""
    mass, (ep, em, nu) = rest_frame_sample
    pair = ep + em
    t = _minkowski(pair, pair)
    u = _minkowski(em + nu, em + nu)
    beta = np.sqrt(1 - 4 * ME**2 / t)
    e_nu_star = (mass**2 - t) / (2 * np.sqrt(t))
    cos_star = ((u - ME**2) / (e_nu_star * np.sqrt(t)) - 1) / beta
    assert np.all(np.abs(cos_star) <= 1 + 1e-6)
    x = t / mass**2
    a = 2 - beta**2 + x
    b = beta**2 * (1 - x)
    c2_expected = ((2 / 3) * a + (2 / 5) * b) / (2 * a + (2 / 3) * b)
    c2 = cos_star**2
    assert c2.mean() == pytest.approx(c2_expected.mean(), abs=4 * c2.std() / np.sqrt(c2.size))
    assert abs(cos_star.mean()) < 4 / np.sqrt(3 * c2.size)  # e+ <-> e- symmetric
    # the transverse-only form (x term dropped) is excluded by the sample
    c2_transverse = ((2 / 3) * (2 - beta**2) + (2 / 5) * beta**2) / (
        2 * (2 - beta**2) + (2 / 3) * beta**2
    )
    assert abs(c2.mean() - c2_transverse.mean()) > 6 * c2.std() / np.sqrt(c2.size)


def test_sample_pair_isotropic_in_n_frame(rest_frame_sample):
    _, (_, _, nu) = rest_frame_sample
    direction = nu[:, 1:] / np.linalg.norm(nu[:, 1:], axis=1, keepdims=True)
    n = direction.shape[0]
    np.testing.assert_allclose(direction.mean(axis=0), 0, atol=4 / np.sqrt(3 * n))
    np.testing.assert_allclose((direction**2).mean(axis=0), 1 / 3, atol=4 * 0.3 / np.sqrt(n))


def test_sample_pair_input_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(InputError):
        model.sample_pair(rng, np.array([1.0, 0, 0, 0.5]), 0.3)  # off shell
    with pytest.raises(InputError):
        model.sample_pair(rng, np.ones((3, 3)), 0.3)
    with pytest.raises(InputError):
        model.sample_pair(rng, np.array([ME, 0, 0, 0]), ME)  # below threshold
    with pytest.raises(InputError):
        model.sample_pair(rng, np.array([[0.3, 0, 0, 0]] * 2), 0.3, n=3)
    ep, em, nu = model.sample_pair(rng, np.empty((0, 4)), 0.3)
    assert ep.shape == em.shape == nu.shape == (0, 4)


@pytest.mark.parametrize("convention", ["corrected", "darknews", "siren"])
@pytest.mark.parametrize("formula", ["exact", "published"])
def test_ee_fraction_is_the_ee_width_over_the_lifetimes_total_width(convention, formula):
    """Γ(ν e+ e-)/Γ_total from the partial widths: with the corrected width the ν γ and
    ν e+ e- fractions add up to one; with DarkNews's or SIREN's the lifetime knows ν γ alone
    and the e+ e- decays are R on top."""
    masses = np.array([0.002, 0.05, 0.47, 1.5])
    d = 2.3e-7
    total = model.total_width_gev(masses, d, convention)
    gamma = model.width_nu_gamma_gev(masses, d, convention)
    ee = gamma * model.br_ee(masses, formula)
    got = model.ee_fraction_of_decays(masses, convention, formula)
    np.testing.assert_allclose(got, ee / total, rtol=1e-13)
    if convention != "corrected":
        np.testing.assert_array_equal(got, model.br_ee(masses, formula))
    elif formula == "exact":
        np.testing.assert_allclose(got + gamma / total, 1.0, rtol=1e-14)
