"""Reweighting a sample to another coupling d, and the Kish effective sample size."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from t2khnl import decay, model
from t2khnl.errors import InputError
from t2khnl.reweight import SignalModel, decay_probability, kish_n_eff, reweight

D_REF = 1.25e-6  # GeV^-1


def _events(n: int = 2000, seed: int = 3, *, survival: bool = True) -> dict[str, np.ndarray]:
    """Synthetic events whose ``weight`` is built exactly as the generator builds it."""
    rng = np.random.default_rng(seed)
    up = rng.lognormal(-40.0, 1.0, n)  # 1/POT
    t_in = rng.uniform(0.0, 30.0, n)  # m
    t_out = t_in + rng.uniform(0.0, 1.5, n)
    t_out[:10] = t_in[:10]  # lines that miss their box
    length = rng.lognormal(2.0, 2.0, n)  # m
    cross = decay.Crossings(t_in[:, None], t_out[:, None])
    if survival:
        prob = decay.probabilities(cross, length)[:, 0]
    else:
        prob = -np.expm1(-(t_out - t_in) / length)
    return {
        "upscatter_weight": up,
        "t_in_m": t_in,
        "t_out_m": t_out,
        "decay_length_m": length,
        "decay_probability": prob,
        "weight": up * prob,
    }


@pytest.mark.parametrize("survival", [True, False])
def test_reference_coupling_reproduces_weight_column_exactly(survival):
    events = _events(survival=survival)
    w = reweight(events, D_REF, d_ref_gev_inv=D_REF, survival=survival)
    np.testing.assert_array_equal(w, events["weight"])


def test_accepts_awkward_and_structured_arrays():
    events = _events(200)
    expected = reweight(events, 3 * D_REF, d_ref_gev_inv=D_REF)
    np.testing.assert_array_equal(
        reweight(ak.Array(events), 3 * D_REF, d_ref_gev_inv=D_REF), expected
    )
    structured = np.zeros(200, dtype=[(k, "f8") for k in events])
    for key, value in events.items():
        structured[key] = value
    np.testing.assert_array_equal(reweight(structured, 3 * D_REF, d_ref_gev_inv=D_REF), expected)


def test_long_lived_yield_scales_as_d4():
    events = _events()
    events["decay_length_m"] = np.full_like(events["t_in_m"], 1e9)  # L >> t_out
    base = reweight(events, D_REF, d_ref_gev_inv=D_REF).sum()
    for factor in (0.1, 0.3, 3.0):
        ratio = reweight(events, factor * D_REF, d_ref_gev_inv=D_REF).sum() / base
        assert ratio == pytest.approx(factor**4, rel=1e-6)


def test_short_lived_yield_is_exponentially_suppressed():
    # One event, t_in = 10 m, box 1 m deep, L_ref = 1 m at d_ref: at d = k d_ref the
    # weight is up k² exp(-10 k²) (1 - exp(-k²)).
    events = {
        "upscatter_weight": np.array([1.0]),
        "t_in_m": np.array([10.0]),
        "t_out_m": np.array([11.0]),
        "decay_length_m": np.array([1.0]),
    }
    for k in (2.0, 5.0, 10.0):
        w = reweight(events, k * D_REF, d_ref_gev_inv=D_REF)[0]
        assert w == pytest.approx(k**2 * np.exp(-10 * k**2) * -np.expm1(-(k**2)), rel=1e-12)
    # Without the survival factor (published preset) there is no suppression: -> d².
    w = reweight(events, 10 * D_REF, d_ref_gev_inv=D_REF, survival=False)[0]
    assert w == pytest.approx(100.0, rel=1e-12)


def test_decay_probability_is_stable_for_very_long_decay_lengths():
    p = decay_probability(0.0, 1.0, 1e20)
    assert p == pytest.approx(1e-20, rel=1e-12)


def test_kish_n_eff():
    assert kish_n_eff(np.full(137, 2.5e-21)) == pytest.approx(137.0, rel=1e-12)
    assert kish_n_eff([1.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert kish_n_eff([1.0, 1.0, 2.0]) == pytest.approx(16.0 / 6.0)
    assert kish_n_eff([]) == 0.0


def test_bad_input():
    events = _events(5)
    with pytest.raises(InputError, match="d_gev_inv"):
        reweight(events, -1.0, d_ref_gev_inv=D_REF)
    with pytest.raises(InputError, match="d_ref_gev_inv"):
        reweight(events, D_REF, d_ref_gev_inv=0.0)
    del events["t_in_m"]
    with pytest.raises(InputError, match="t_in_m"):
        reweight(events, D_REF, d_ref_gev_inv=D_REF)


def test_signal_model_counts_the_ee_share_of_the_decays_the_weights_count():
    """The corrected lifetimes include Γ(ν e+ e-): the signal is the weighted decays x
    R/(1+R) x efficiency x POT, not x R (which would count ~0.8% more e+ e- pairs than
    decays of that kind at 0.5 GeV); with DarkNews's width (ν γ only) it is x R."""
    columns = {"upscatter_weight": np.array([1e-20, 3e-20]), "t_in_m": np.array([0.0, 0.5]),
               "t_out_m": np.array([1.0, 1.5]), "decay_length_m": np.array([40.0, 90.0])}
    r = float(model.br_ee(0.5))
    decays = float(reweight(columns, 1e-6, d_ref_gev_inv=1e-6).sum())
    for convention, share in (("corrected", r / (1 + r)), ("darknews", r)):
        signal = SignalModel(
            columns={"fhc": columns}, factors={"fhc": (0.1, 1e21)}, mass_gev=0.5,
            br_ee_formula="exact", width_convention=convention, d_ref_gev_inv=1e-6)
        assert signal.ee_fraction == pytest.approx(share, rel=1e-14)
        assert signal(1e-6)["fhc"] == pytest.approx(decays * share * 0.1 * 1e21, rel=1e-14)
