"""pyhf statistics: zero-event limits, T2K backgrounds, Asimov sensitivity, d scans, patchsets."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pyhf
import pytest
from scipy import special
from scipy import stats as sps

from t2khnl import counting, stats
from t2khnl.errors import InputError

LIMIT_95 = -math.log(0.05)  # 2.9957 signal events


def _hand_built_zero_background() -> tuple[pyhf.pdf.Model, list[float]]:
    """One bin, 1 expected signal event at mu = 1, no background, no systematics, 0 seen."""
    spec = {
        "channels": [
            {
                "name": "sr",
                "samples": [
                    {
                        "name": "signal",
                        "data": [1.0],
                        "modifiers": [{"name": "mu", "type": "normfactor", "data": None}],
                    }
                ],
            }
        ]
    }
    model = pyhf.Model(spec, poi_name="mu")
    return model, [0.0, *model.config.auxdata]


def test_zero_background_limit_is_three_events():
    model, data = _hand_built_zero_background()
    mu_up = stats.upper_limit(model, data=data)  # calctype="exact", qtilde
    assert mu_up == pytest.approx(LIMIT_95, rel=0.01)
    assert mu_up == pytest.approx(LIMIT_95, rel=1e-6)
    # The same through the package's builder, with two channels: Σ s is what counts.
    ws = counting.zero_background_model({"fhc": 0.7, "rhc": 0.3})
    assert stats.upper_limit(ws) == pytest.approx(LIMIT_95, rel=1e-6)
    assert stats.cls(ws, mu=LIMIT_95) == pytest.approx(0.05, rel=1e-9)


def test_asymptotic_zero_background_limit_is_not_three_events():
    # Documented shortcoming: 2 (1 - Φ(√(2 s))) = 0.05 gives s = 1.96²/2 = 1.921.
    model, data = _hand_built_zero_background()
    mu_up = stats.upper_limit(model, data=data, calctype="asymptotics")
    assert mu_up == pytest.approx(sps.norm.isf(0.025) ** 2 / 2, rel=1e-3)


def test_toys_agree_with_exact_zero_background_cls():
    np.random.seed(20250101)  # pyhf's numpy backend samples toys from numpy's global RNG
    ws = counting.zero_background_model({"sr": 3.0})
    ntoys = 400
    value = stats.cls(ws, calctype="toybased", ntoys=ntoys)
    p = math.exp(-3.0)
    assert abs(value - p) < 5 * math.sqrt(p * (1 - p) / ntoys)


def test_t2k_background_variant_limit_is_three_events_too():
    # With nothing observed CLs = exp(-Σ s) whatever b: b = 0.563 + 0.015 changes nothing.
    ws = counting.t2k_2019_workspace({"fhc": 0.8, "rhc": 0.2}, flux_xsec=None)
    assert stats.upper_limit(ws) == pytest.approx(LIMIT_95, rel=1e-6)
    # The asymptotic limit with b = 0.578 is 2.235 events: inside (1.92, 3.0).
    asym = stats.upper_limit(ws, calctype="asymptotics")
    assert 2.1 < asym < 2.4


def test_exact_enumeration_matches_closed_forms():
    # One bin, one event seen, b = 0.578: CLs = P(n <= 1 | s + b) / P(n <= 1 | b).
    ws = counting.build_workspace(
        {"sr": 3.0}, background={"sr": 0.578}, observed={"sr": 1.0}, flux_xsec=None
    )
    expected = sps.poisson.cdf(1, 3.578) / sps.poisson.cdf(1, 0.578)
    assert stats.cls(ws) == pytest.approx(expected, rel=1e-6)
    # Two channels, nothing seen, enumerated (a negligible normsys forces the enumeration):
    # the closed form exp(-Σ s) holds.
    ws = counting.build_workspace(
        {"fhc": 1.2, "rhc": 0.8},
        background=counting.T2K_2019_BACKGROUND,
        flux_xsec=1e-6,
    )
    assert stats.cls(ws) == pytest.approx(math.exp(-2.0), rel=1e-4)


def test_flux_xsec_normsys_weakens_the_limit_slightly():
    signal = {"fhc": 2.0, "rhc": 1.0}
    with_syst = stats.cls(counting.zero_background_model({"sr": 3.0}, flux_xsec=0.05))
    assert math.exp(-3.0) < with_syst < 1.1 * math.exp(-3.0)
    ws = counting.t2k_2019_workspace(signal)
    spec_mods = ws["channels"][0]["samples"][0]["modifiers"]
    assert {"name": "flux_xsec", "type": "normsys", "data": {"hi": 1.05, "lo": 0.95}} in spec_mods


@pytest.mark.parametrize(
    ("signal", "background"),
    [(3.0, 0.578), ({"fhc": 25.0, "rhc": 9.0}, {"fhc": 9.4, "rhc": 0.25}), (4.0, 0.0)],
)
def test_asimov_exclusion_significance_matches_cowan(signal, background):
    z_pyhf = stats.significance_of_exclusion(signal, background)
    assert z_pyhf == pytest.approx(stats.cowan_exclusion_significance(signal, background), rel=1e-4)


def test_expected_cls_on_asimov_is_consistent_with_significance():
    signal, background = {"fhc": 6.0, "rhc": 2.0}, {"fhc": 2.0, "rhc": 0.05}
    ws = counting.build_workspace(signal, background=background, flux_xsec=None)
    z = stats.significance_of_exclusion(signal, background)
    # On Asimov data q = q_A: CLs+b = 1 - Φ(Z), CLb = 1/2.
    assert stats.expected_cls(ws) == pytest.approx(2 * sps.norm.sf(z), rel=1e-4)


def _crossings(amplitude: float, d1: float, s_star: float) -> tuple[float, float]:
    """Roots of A d⁴ exp(-(d/d1)²) = s*: with x = (d/d1)², x e^(-x/2) = √(s*/(A d1⁴))."""
    c = math.sqrt(s_star / (amplitude * d1**4))
    x_low = -2 * special.lambertw(-c / 2, 0).real
    x_high = -2 * special.lambertw(-c / 2, -1).real
    return d1 * math.sqrt(x_low), d1 * math.sqrt(x_high)


def test_limit_interval_finds_analytic_crossings():
    d1, amplitude = 1e-5, 40.0 / 1e-5**4  # peak s = 40 e^-2 ≈ 5.4 events at d = √2 d1

    def signal_of_d(d: float) -> dict[str, float]:
        s = amplitude * d**4 * math.exp(-((d / d1) ** 2))
        return {"fhc": 0.75 * s, "rhc": 0.25 * s}

    grid = np.geomspace(1e-7, 1e-4, 40)
    result = stats.limit_interval(signal_of_d, grid, stats.make_cls_fn())
    low, high = _crossings(amplitude, d1, LIMIT_95)
    assert result.d_low == pytest.approx(low, rel=1e-6)
    assert result.d_high == pytest.approx(high, rel=1e-6)
    assert result.cls_low == pytest.approx(0.05)
    assert not (result.low_open or result.high_open)
    assert len(result.intervals) == 1
    assert result.cls_grid.shape == grid.shape

    # Too weak a signal: nothing excluded.
    weak = stats.limit_interval(
        lambda d: {k: v / 10 for k, v in signal_of_d(d).items()}, grid, stats.make_cls_fn()
    )
    assert weak.d_low is None and weak.d_high is None and weak.intervals == ()

    # Excluded up to the end of the grid: the edge is the grid point, flagged open.
    short = stats.limit_interval(signal_of_d, np.geomspace(1e-7, 1.5e-5, 20), stats.make_cls_fn())
    assert short.high_open and short.d_high == pytest.approx(1.5e-5)
    assert short.d_low == pytest.approx(low, rel=1e-6)


def test_patchset_validates_and_applies():
    points = {
        (0.47, 1.25e-6): {"fhc": 2.5, "rhc": 0.5},
        (0.47, 3.0e-6): {"fhc": 7.0, "rhc": 1.5},
        (0.2, 1.0e-5): {"fhc": 0.1, "rhc": 0.0},
    }
    bkg_ws, patchset = counting.build_patchset(
        points,
        hepdata="ins0000000",  # placeholder: the schema needs an INSPIRE id
        background=counting.T2K_2019_BACKGROUND,
    )
    assert len(patchset) == 3
    spec = json.loads(counting.patchset_json(patchset))
    pyhf.schema.validate(spec, "patchset.json")
    assert spec["metadata"]["labels"] == ["mass_gev", "d_gev_inv"]
    assert spec["metadata"]["digests"]["sha256"] == pyhf.utils.digest(bkg_ws)
    ws = patchset.apply(bkg_ws, (0.47, 3.0e-6))
    model = ws.model()
    signal = dict(zip(model.config.channels, model.expected_actualdata([1.0, 0.0]), strict=True))
    background = dict(
        zip(model.config.channels, model.expected_actualdata([0.0, 0.0]), strict=True)
    )
    assert signal["fhc"] - background["fhc"] == pytest.approx(7.0)
    assert signal["rhc"] - background["rhc"] == pytest.approx(1.5)
    direct = counting.t2k_2019_workspace({"fhc": 7.0, "rhc": 1.5})
    assert pyhf.utils.digest(ws) == pyhf.utils.digest(direct)
    assert patchset["m0p47_d3em06"].values == (0.47, 3.0e-6)


def test_pyhf_cli_reproduces_our_cls(tmp_path):
    ws = counting.t2k_2019_workspace({"fhc": 2.0, "rhc": 0.6})
    path = tmp_path / "ws.json"
    path.write_text(counting.workspace_json(ws))
    result = subprocess.run(
        # pyhf 0.7 has no ``__main__`` (``python -m pyhf`` fails): call its click entry point.
        [sys.executable, "-c", "from pyhf.cli import cli; cli()", "cls", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    cli = json.loads(result.stdout)
    ours = stats.cls(ws, calctype="asymptotics")
    assert cli["CLs_obs"] == pytest.approx(ours, rel=1e-6)
    assert cli["CLs_exp"][2] == pytest.approx(stats.expected_cls(ws), rel=1e-3)


def test_bad_input():
    with pytest.raises(InputError, match="channels"):
        counting.build_workspace({"fhc": 1.0}, background={"rhc": 0.1})
    with pytest.raises(InputError, match="non-negative"):
        counting.build_workspace({"fhc": -1.0})
    with pytest.raises(InputError, match="calctype"):
        stats.cls(counting.zero_background_model({"sr": 1.0}), calctype="bayes")  # type: ignore[arg-type]
    model, _ = _hand_built_zero_background()
    with pytest.raises(InputError, match="data"):
        stats.cls(model)
    with pytest.raises(InputError, match="grid"):
        stats.limit_interval(lambda d: {"sr": 1.0}, [1e-6], stats.make_cls_fn())


def test_make_cls_fn_shortcut_equals_pyhf_path():
    fast = stats.make_cls_fn(background=counting.T2K_2019_BACKGROUND)
    slow = stats.make_cls_fn(background=counting.T2K_2019_BACKGROUND, calctype="asymptotics")
    for signal in ({"fhc": 0.3, "rhc": 0.1}, {"fhc": 2.2, "rhc": 0.9}):
        ws = counting.t2k_2019_workspace(signal, flux_xsec=None)
        assert fast(signal) == pytest.approx(stats.cls(ws), rel=1e-9)
        assert slow(signal) == pytest.approx(stats.cls(ws, calctype="asymptotics"), rel=1e-9)


def test_published_criterion_is_asymptotic_clsb_at_1p353_events():
    """The paper's curve sits at 0.5 * 1.645^2 = 1.353 events (docs/published.md)."""
    import scipy.optimize

    def clsb(s):
        return stats.cls(counting.zero_background_model({"fhc": s}), calctype="asymptotics_clsb")

    s_up = scipy.optimize.brentq(lambda s: clsb(s) - 0.05, 0.5, 3.0)
    assert s_up == pytest.approx(0.5 * 1.6448536**2, rel=0.01)


@pytest.mark.parametrize("calctype", ["asymptotics", "asymptotics_clsb"])
def test_scaled_cls_is_stable_for_huge_signals(calctype):
    """pyhf's direct fit returns CLs = 0.5 at 1e5 events; the scaled form does not."""
    small = stats.scaled_cls({"fhc": 1.0, "rhc": 0.3}, calctype=calctype)
    direct = stats.cls(counting.zero_background_model({"fhc": 1.0, "rhc": 0.3}), calctype=calctype)
    assert small == pytest.approx(direct, rel=1e-4)
    for total in (1e3, 1e5):
        assert stats.scaled_cls({"fhc": total, "rhc": total / 3}, calctype=calctype) < 1e-6


@pytest.mark.parametrize("flux_xsec", [None, 0.05])
@pytest.mark.parametrize(("calctype", "expected"),
                         [("asymptotics", True), ("asymptotics", False), ("exact", False)])
def test_scaled_cls_equals_cls_of_the_validated_workspace(flux_xsec, calctype, expected):
    """scaled_cls builds its model without schema validation; the CLs is that of the
    validated workspace of the same unit signal at mu = the total."""
    signal, background = {"fhc": 2.4, "rhc": 0.6}, {"fhc": 0.9, "rhc": 0.02}
    ws = counting.build_workspace({"fhc": 0.8, "rhc": 0.2}, background=background,
                               flux_xsec=flux_xsec)
    model = stats._widen_poi(ws.model(modifier_settings=counting.MODIFIER_SETTINGS), 30.0)
    data = stats._asimov_background(model) if expected else ws.data(model)
    want = stats.cls(model, data=data, mu=3.0, calctype=calctype)
    got = stats.scaled_cls(signal, background=background, flux_xsec=flux_xsec,
                           calctype=calctype, expected=expected)
    assert got == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("calctype", ["asymptotics", "asymptotics_clsb"])
@pytest.mark.parametrize("background", [{"fhc": 0.0, "rhc": 0.0}, {"fhc": 3.61, "rhc": 0.096}])
@pytest.mark.parametrize("total", [0.05, 1.921, 7.0, 40.0])
def test_expected_asymptotic_cls_is_the_asimov_closed_form(calctype, background, total):
    """make_cls_fn(expected=True) without systematics returns 2 Φ̄(Z) (CLs+b: Φ̄(Z)), Z
    Cowan's Asimov significance, without pyhf; pyhf's hypotest on the validated
    workspace's background-only Asimov data agrees, whatever the split between channels."""
    closed = stats.make_cls_fn(background=background, calctype=calctype, expected=True)
    for share in (1.0, 0.7, 0.2):
        signal = {"fhc": share * total, "rhc": (1 - share) * total}
        ws = counting.build_workspace({ch: s / total for ch, s in signal.items()},
                                   background=background, flux_xsec=None)
        model = stats._widen_poi(ws.model(modifier_settings=counting.MODIFIER_SETTINGS),
                                 10 * total)
        want = stats.cls(model, data=stats._asimov_background(model), mu=total,
                         calctype=calctype)
        assert closed(signal) == pytest.approx(want, rel=1e-9)
        if not any(background.values()):  # b = 0: Z² = 2 Σs
            tail = float(sps.norm.sf(math.sqrt(2 * total)))
            assert closed(signal) == pytest.approx(
                tail * (2 if calctype == "asymptotics" else 1), rel=1e-12)
    # with a normsys the answer is pyhf's
    with_syst = stats.make_cls_fn(background=background, calctype=calctype, expected=True,
                                  flux_xsec=0.05)
    assert with_syst({"fhc": total, "rhc": 0.0}) == stats.scaled_cls(
        {"fhc": total, "rhc": 0.0}, background=background, calctype=calctype, expected=True,
        flux_xsec=0.05)
