"""Headline numbers (t2khnl.headlines) and the published -> corrected walk (t2khnl.compare)."""

from __future__ import annotations

import itertools
import json
import math

import _fake_limit
import numpy as np
import pytest

from t2khnl import compare, config, headlines, limit, model, ntuple, reproduce, scan
from t2khnl.errors import DataFileError, InputError
from t2khnl.masses import mass_label
from t2khnl.scanstore import ScanStore


def test_vertical_intervals_of_a_square_and_a_ring_shaped_polygon():
    square = [(10.0, 1e-7), (100.0, 1e-7), (100.0, 1e-5), (10.0, 1e-5)]
    (lo, hi), = headlines.vertical_intervals(square, 30.0)
    assert lo == pytest.approx(1e-7) and hi == pytest.approx(1e-5)
    assert headlines.vertical_intervals(square, 300.0) == []
    # a "C" shape: the vertical line crosses it twice
    c_shape = [(10, 1e-8), (100, 1e-8), (100, 1e-7), (20, 1e-7), (20, 1e-6), (100, 1e-6),
               (100, 1e-5), (10, 1e-5)]
    parts = headlines.vertical_intervals(c_shape, 50.0)
    assert [tuple(round(math.log10(v), 6) for v in iv) for iv in parts] == [(-8, -7), (-6, -5)]


def test_world_leading_window_is_where_our_edge_is_below_the_existing_limits():
    masses = np.array([100.0, 200.0, 500.0, 1000.0])
    d_low = np.array([1e-6, 1e-6, 1e-6, np.nan])

    def existing(m):  # excludes down to 1e-6 x (m / 300 MeV): weaker than ours above 300
        return 1e-6 * np.asarray(m) / 300.0

    (lo, hi), = headlines.world_leading_windows(masses, d_low, existing)
    step = (1000.0 / 100.0) ** (1 / (headlines._FINE_MASSES - 1))
    assert 300.0 <= lo <= 300.0 * step
    assert 500.0 / step <= hi <= 500.0  # no lower edge at 1 GeV: the curve ends at 500 MeV
    assert headlines.world_leading_windows(masses, d_low, lambda m: np.full(np.shape(m), 1e-9)
                                           ) == []


def test_miniboone_overlap_matches_provenance():
    """PROVENANCE.md: the solution is roughly m_N 500-710 MeV, d 1.2e-6 to 3e-6 GeV^-1."""
    (lo, hi), = headlines.miniboone_overlap(600.0)
    assert 1.1e-6 < lo < hi < 3.1e-6
    assert headlines.miniboone_overlap(300.0) == []
    assert headlines.miniboone_overlap(900.0) == []


def _fake_scan(tmp_path, masses):
    out = tmp_path / "scan"
    scan.scan("nd280", masses, output_dir=out, n_events=2000, runner=_fake_limit.run,
              progress=False)
    return out


def test_miniboone_verdict_equals_the_exact_cls_of_the_weakest_point(tmp_path):
    out = _fake_scan(tmp_path, "0.3,0.6")
    verdict = headlines.miniboone_verdict(out, "nd280", "corrected", points_per_slice=9)
    assert verdict.masses_mev == [600.0]
    # independent: expected events from the ntuple columns, CLs = exp(-s) for 0 observed
    (lo, hi), = headlines.miniboone_overlap(600.0)
    mass_dir = out / "masses" / mass_label(0.6)
    smallest = math.inf
    for d in np.geomspace(lo, hi, 9):
        s = 0.0
        for beam in ("fhc", "rhc"):
            ev, meta = ntuple.read(mass_dir / f"selected_{beam}.root")
            length = np.asarray(ev["decay_length_m"]) * (_fake_limit.D_REF / d) ** 2
            t_in, t_out = np.asarray(ev["t_in_m"]), np.asarray(ev["t_out_m"])
            p = np.exp(-t_in / length) * -np.expm1(-(t_out - t_in) / length)
            s += float(np.sum(np.asarray(ev["upscatter_weight"]) * (d / _fake_limit.D_REF) ** 2
                              * p)) * meta["efficiency"] * _fake_limit.POT[beam]
        r = float(model.br_ee(0.6))  # corrected lifetimes include Γ(ν e+e-): share R/(1+R)
        smallest = min(smallest, s * r / (1 + r))
    assert verdict.cl == pytest.approx(1 - math.exp(-smallest), rel=1e-9)
    assert verdict.sigma is None


def test_rock_share_and_turnover(tmp_path):
    out = _fake_scan(tmp_path, "0.05,0.1,0.2")
    share_list = headlines.rock_shares(out, "corrected")
    shares = dict(share_list)
    for rec in ScanStore(out).records():
        mass_dir = out / "masses" / mass_label(rec["mass_gev"])
        summary = json.loads((mass_dir / "summary.json").read_text())
        channels = limit.load_channels(mass_dir, summary)
        w = limit.event_yields(channels, rec["d_low"], config.load("corrected"))
        rock = np.concatenate([np.asarray(ch.events["t_in_m"]) > 10.0 for ch in channels])
        assert shares[rec["mass_gev"] * 1e3] == pytest.approx(w[rock].sum() / w.sum())
    branch = {m: rec["d_low"] for rec in ScanStore(out).records()
              if shares[(m := rec["mass_gev"] * 1e3)] > 0.5}
    expected = min(branch, key=branch.get) if branch else None
    assert headlines.rock_turnover_mev(ScanStore(out).records(), share_list) == expected
    crossover = headlines.rock_crossover_mev(share_list)
    ordered = sorted(shares.items())
    falls = [(a, b) for a, b in itertools.pairwise(ordered) if a[1] > 0.5 >= b[1]]
    if falls:
        (m0, _), (m1, _) = falls[0]
        assert m0 <= crossover <= m1
    else:
        assert crossover is None


def test_missing_scan_is_a_clear_error(tmp_path):
    with pytest.raises(DataFileError, match=r"contour\.json"):
        ScanStore(tmp_path).records()


def test_walk_goes_from_published_to_corrected_one_change_at_a_time():
    steps = compare.steps()
    assert steps[0].preset == config.load("published")
    assert len(steps) == 1 + len(compare._walk_spec()["steps"])
    corrected = config.load("corrected")
    assert steps[-1].preset.settings() == corrected.settings()
    spec = compare._walk_spec()["steps"]
    for before, after, entry in zip(steps[:-1], steps[1:], spec, strict=True):
        changed = {k for k in after.preset.settings()
                   if after.preset.settings()[k] != before.preset.settings()[k]}
        assert changed and changed <= set(entry["set"])


def test_every_walk_step_cites_its_evidence():
    """Each step names the authors' file and line or an in-project test, and every cited
    test exists."""
    import re
    from pathlib import Path

    tests_dir = Path(__file__).parent
    steps = compare.steps()
    assert steps[1].name.startswith("decay region") and steps[1].preset.decay_region == (
        "fiducial") and steps[0].preset.decay_region == "tpc_gas"
    for step in steps[1:]:
        cited = re.findall(r"tests/(test_\w+\.py)::(\w+)", step.evidence)
        authors = re.search(r"\.(py|dat|ipynb|csv|txt):?\d*|:\d+", step.evidence)
        assert cited or authors, step.name
        for filename, test in cited:
            source = (tests_dir / filename).read_text()
            assert re.search(rf"^def {test}\(", source, re.MULTILINE), (step.name, test)


def test_a_walk_step_without_evidence_is_refused(monkeypatch):
    spec = compare._walk_spec()
    bare = [{k: v for k, v in entry.items() if k != "evidence"} if i == 2 else entry
            for i, entry in enumerate(spec["steps"])]
    monkeypatch.setattr(compare, "_walk_spec", lambda: {**spec, "steps": bare})
    with pytest.raises(InputError, match=r"walk step 3 .* cites no evidence"):
        compare.steps()


def test_a_walk_that_misses_the_end_is_refused(monkeypatch):
    spec = compare._walk_spec()
    monkeypatch.setattr(compare, "_walk_spec", lambda: {**spec, "steps": spec["steps"][:-1]})
    with pytest.raises(InputError, match=r"does not end at 'corrected'.*wrong_sign_component"):
        compare.steps()


def test_preset_files_load_and_bad_ones_are_named(tmp_path):
    step = compare.steps()[3]
    path = tmp_path / "step3.yaml"
    path.write_text(json.dumps(step.preset.to_dict()))  # JSON is YAML
    assert config.load(str(path)) == step.preset
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\n")
    with pytest.raises(InputError, match="invalid preset"):
        config.load(str(broken))
    with pytest.raises(InputError, match="cannot read preset file"):
        config.load(str(tmp_path / "missing.yaml"))


def test_summary_rows_put_the_paper_beside_each_number():
    verdict = headlines.MiniBooNEVerdict(None, None, None, [], None)
    numbers = headlines.Headlines("corrected", None, [], [33.8, 81.6], [[33.8, 81.6]], 0.0011,
                                  0.0, {"nd280": verdict, "upgrade": verdict}, 105.4, None,
                                  headlines.PAPER)
    rows = {q: (ours, paper) for q, ours, paper in reproduce.headline_rows(numbers)}
    assert rows["ND280 2019 world-leading window [MeV]"] == ("none", "390-743")
    assert rows["T2K + T2K-II world-leading window [MeV]"] == ("34-82", "148-860")
    assert rows["bedrock turnover: lowest d_low of the rock branch [MeV]"] == ("105", "~200")
    assert rows["bedrock turnover: rock share of the signal below 1/2 [MeV]"] == ("-", "~200")


def test_headlines_json_keeps_its_keys_and_order():
    """headlines.json is written from the typed result with the keys, in the order, it had
    as a dict."""
    verdict = headlines.MiniBooNEVerdict(0.9, 600.0, 2e-6, [600.0], None)
    numbers = headlines.Headlines("corrected", [390.0, 743.0], [[390.0, 743.0]], None, [], 0.9,
                                  5.1, {"nd280": verdict, "upgrade": verdict}, 200.0, None,
                                  headlines.PAPER)
    document = numbers.as_json()
    assert list(document) == [
        "preset", "nd280_world_leading_mev", "nd280_windows_mev", "upgrade_world_leading_mev",
        "upgrade_windows_mev", "minibooNE_nd280_cl", "minibooNE_upgrade_sigma", "minibooNE",
        "rock_turnover_mev", "rock_crossover_mev", "paper"]
    assert document["minibooNE"]["nd280"] == {"cl": 0.9, "worst_mass_mev": 600.0,
                                              "worst_d": 2e-6, "masses_mev": [600.0],
                                              "sigma": None}
    assert json.loads(json.dumps(document)) == document


def test_headline_numbers_write_the_document_the_dict_did():
    """reproduce.write_numbers' typed result serialises to the bytes of the dict it replaced:
    the headlines' keys, then ``kaon_validation`` with its keys in their order."""
    verdict = headlines.MiniBooNEVerdict(0.9, 600.0, 2e-6, [600.0], None)
    found = headlines.Headlines("published", [390.0, 743.0], [[390.0, 743.0]], None, [], 0.9,
                                5.1, {"nd280": verdict, "upgrade": verdict}, 200.0, None,
                                headlines.PAPER)
    kaon = reproduce.KaonAgreement("AFH", 1.1, 0.9, 1.3, 0.11, [10.0, 400.0], 1.4,
                                   {"efficiency": 0.8})
    numbers = reproduce.HeadlineNumbers(found, kaon)
    before = {**found.as_json(), "kaon_validation": {
        "compared_with": "AFH", "median_ratio": 1.1, "min_ratio": 0.9, "max_ratio": 1.3,
        "max_abs_log10": 0.11, "masses_mev": [10.0, 400.0],
        "analysis_assumptions_median_ratio": 1.4, "factors": {"efficiency": 0.8}}}
    assert json.dumps(numbers.as_json(), indent=2) == json.dumps(before, indent=2)
    summary = reproduce.summary_markdown(numbers, {})
    assert summary.startswith("# Results, preset `published`")
    assert "| agrees with AFH (no number) |" in summary and "| 1.1 (0.9-1.3) |" in summary
