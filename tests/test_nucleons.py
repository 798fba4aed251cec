"""Incoherent upscattering on bound nucleons (t2khnl.nucleons) against independent values:
a Monte Carlo Fermi sphere, four-momentum conservation, DarkNews's dsigma/dQ^2 by
quadrature, and the tables' cross-section ratios."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from t2khnl import nucleons, xsec
from t2khnl.errors import ComputationError

C12, PB208, H1 = 1000060120, 1000822080, xsec.PROTON_PDG
MASS = 0.3


@pytest.fixture(scope="module")
def tables():
    return xsec.build_tables(MASS, [C12, PB208, H1])


def _free_dsigma_dq2(table, energy, q2):
    """The free nucleon's dsigma/dQ^2 [cm^2/GeV^2] straight from DarkNews's amplitude."""
    procs = xsec._processes(MASS, xsec.FREE_NUCLEON_PDG[table.channel], table.channel)
    return sum(xsec._dsigma_dq2(p, np.asarray(energy), np.asarray(q2)) for p in procs)


def _q2_bounds(table, energy):
    ymin, ymax = xsec.siren_y_bounds(np.array([energy]), MASS, table.scatterer_mass_gev)
    scale = 2 * table.scatterer_mass_gev * energy
    return scale * ymin[0], scale * ymax[0]


# ----------------------------------------------------------------------------- Pauli
@pytest.mark.parametrize("x", [0.05, 0.3, 0.6, 0.95])
def test_pauli_factor_is_the_fraction_leaving_a_fermi_sphere(x):
    """Points uniform in a sphere of radius k_F, shifted by |q| = 2 x k_F: the fraction
    that ends outside it."""
    rng = np.random.default_rng(11)
    kf, n = 0.25, 400_000
    direction = rng.normal(size=(n, 3))
    direction /= np.linalg.norm(direction, axis=1)[:, None]
    points = direction * kf * rng.random(n)[:, None] ** (1 / 3)
    points[:, 2] += 2 * x * kf
    outside = np.mean(np.linalg.norm(points, axis=1) > kf)
    error = math.sqrt(outside * (1 - outside) / n)
    assert nucleons.pauli_factor(2 * x * kf, kf) == pytest.approx(outside, abs=4 * error)


def test_pauli_factor_limits():
    kf = 0.221
    q = np.linspace(0, 3 * kf, 301)
    s = nucleons.pauli_factor(q, kf)
    assert s[0] == 0.0 and np.all(np.diff(s) >= 0) and np.all(s[q >= 2 * kf] == 1.0)
    assert nucleons.pauli_factor(2 * kf * (1 - 1e-9), kf) == pytest.approx(1.0, abs=1e-8)
    assert nucleons.pauli_factor(1e-3, kf) == pytest.approx(0.75e-3 / kf, rel=1e-5)


def test_fermi_momenta():
    assert nucleons.fermi_momentum_gev(12) == pytest.approx(0.221)
    assert nucleons.fermi_momentum_gev(208) == pytest.approx(0.265)
    assert 0.221 < nucleons.fermi_momentum_gev(16) < 0.235
    assert nucleons.fermi_momentum_gev(4) == pytest.approx(0.169)


def test_momentum_transfer():
    m = 0.938
    q2 = np.array([0.01, 0.5])
    nu = q2 / (2 * m)
    np.testing.assert_allclose(nucleons.momentum_transfer_gev(q2, m), np.sqrt(q2 + nu**2))


# ----------------------------------------------------------------------------- kinematics
def test_nucleon_kinematics_conserve_four_momentum():
    rng = np.random.default_rng(2)
    m, big_m = MASS, xsec.M_NEUTRON_GEV
    energy = rng.uniform(0.8, 6.0, 200)
    ymin, ymax = xsec.siren_y_bounds(energy, m, big_m)
    lo, hi = 2 * big_m * energy * ymin, 2 * big_m * energy * ymax
    q2 = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    hnl, recoil = nucleons.nucleon_kinematics(energy, q2, m, big_m, rng.uniform(0, 6.3, 200))
    initial = np.stack([energy + big_m, 0 * energy, 0 * energy, energy], axis=1)
    np.testing.assert_allclose(hnl + recoil, initial, rtol=1e-12, atol=1e-12)
    metric = np.array([1.0, -1, -1, -1])
    np.testing.assert_allclose(np.sum(hnl**2 * metric, axis=1), m**2, rtol=1e-9)
    np.testing.assert_allclose(np.sum(recoil**2 * metric, axis=1), big_m**2, rtol=1e-9)
    np.testing.assert_allclose(nucleons.q2_of_coherent(energy, hnl, m), q2, rtol=1e-8)


# ----------------------------------------------------------------------------- Q^2 sampling
@pytest.mark.parametrize(("channel", "energy"), [("p-el", 1.0), ("p-el", 3.7), ("n-el", 2.2)])
def test_sampled_q2_follows_the_free_cross_section(tables, channel, energy):
    """Quantiles of the sampled Q^2 against the cumulative of DarkNews's dsigma/dQ^2,
    integrated by scipy in ln Q^2 (4.0e4 draws: the quantiles agree within 0.01)."""
    table = tables[(xsec.FREE_NUCLEON_PDG[channel], channel)]
    rng = np.random.default_rng(5)
    drawn = nucleons.sample_q2(rng, table, np.full(40_000, energy))
    lo, hi = _q2_bounds(table, energy)
    assert drawn.min() >= lo * (1 - 1e-6) and drawn.max() <= hi * (1 + 1e-6)

    def density(lq):
        return float(_free_dsigma_dq2(table, energy, math.exp(lq))[()]) * math.exp(lq)

    total = integrate.quad(density, math.log(lo), math.log(hi), limit=200)[0]
    for q in np.quantile(drawn, [0.1, 0.3, 0.5, 0.7, 0.9]):
        below = integrate.quad(density, math.log(lo), math.log(q), limit=200)[0] / total
        assert below == pytest.approx(np.mean(drawn <= q), abs=0.01)


# ----------------------------------------------------------------------------- reassign
def _coherent_kinematics(energy, n, rng):
    """SIREN-like coherent events (forward HNLs) to hand to reassign."""
    hnl, recoil = nucleons.nucleon_kinematics(np.full(n, energy), np.full(n, 1e-3), MASS,
                                              11.17, rng.uniform(0, 6.28, n))
    return hnl, recoil


def test_channels_are_drawn_from_the_cross_sections(tables):
    rng = np.random.default_rng(7)
    energy, n = 2.0, 60_000
    hnl, recoil = _coherent_kinematics(energy, n, rng)
    targets = np.r_[np.full(n // 2, C12), np.full(n - n // 2, H1)]
    out = nucleons.reassign(rng, np.full(n, energy), targets, hnl, recoil, tables, MASS,
                            pauli_blocking=False)
    c12 = out.channel[: n // 2]
    sigma = {c: tables[(C12, c)].total(energy) for c in ("coherent", "p-el", "n-el")}
    for name, code in nucleons.CHANNEL_CODES.items():
        share = sigma[name] / sum(sigma.values())
        assert np.mean(c12 == code) == pytest.approx(share, abs=4 * math.sqrt(share / (n / 2)))
    assert np.all(out.channel[n // 2:] == nucleons.CHANNEL_CODES["p-el"])  # hydrogen
    coherent = out.channel == 0
    np.testing.assert_array_equal(out.hnl_p4_gev[coherent], hnl[coherent])  # untouched
    assert np.all(out.weight_factor == 1.0)


def test_pauli_weights_give_the_blocked_cross_section(tables):
    """<weight factor> over p-el events on Pb208 = the blocked p-el cross section over the
    free one, integrated by quadrature: the importance weights sample the blocked rate."""
    rng = np.random.default_rng(9)
    energy, n = 1.2, 40_000
    table = tables[(H1, "p-el")]
    hnl, recoil = _coherent_kinematics(energy, n, rng)
    only_pel = {k: v for k, v in tables.items() if k[1] == "p-el"}
    out = nucleons.reassign(rng, np.full(n, energy), np.full(n, PB208), hnl, recoil, only_pel,
                            MASS, pauli_blocking=True)
    assert np.all(out.channel == nucleons.CHANNEL_CODES["p-el"])
    lo, hi = _q2_bounds(table, energy)
    kf = nucleons.fermi_momentum_gev(208)

    def integrand(lq, blocked):
        q2 = math.exp(lq)
        value = float(_free_dsigma_dq2(table, energy, q2)[()]) * q2
        return value * (nucleons.pauli_factor(
            nucleons.momentum_transfer_gev(q2, table.scatterer_mass_gev), kf) if blocked else 1)

    ratio = (integrate.quad(integrand, math.log(lo), math.log(hi), args=(True,), limit=200)[0]
             / integrate.quad(integrand, math.log(lo), math.log(hi), args=(False,),
                              limit=200)[0])
    assert 0.2 < ratio < 0.9  # a real suppression at this Q^2
    assert np.mean(out.weight_factor) == pytest.approx(ratio, rel=0.01)
    # hydrogen's proton is free
    free = nucleons.reassign(rng, np.full(100, energy), np.full(100, H1), hnl[:100],
                             recoil[:100], only_pel, MASS, pauli_blocking=True)
    assert np.all(free.weight_factor == 1.0)


def test_a_target_without_tables_is_an_error(tables):
    rng = np.random.default_rng(1)
    hnl, recoil = _coherent_kinematics(2.0, 3, rng)
    with pytest.raises(ComputationError, match="1000080160"):
        nucleons.reassign(rng, np.full(3, 2.0), np.full(3, 1000080160), hnl, recoil, tables,
                          MASS, pauli_blocking=False)
