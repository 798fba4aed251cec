"""The limit step: the experiment's exposures and backgrounds, and an end-to-end
`t2khnl limit` run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import uproot
from click.testing import CliRunner

from t2khnl import config, counting, couplings, experiment, limit, ntuple
from t2khnl.cli import main
from t2khnl.errors import InputError


def test_upgrade_exposure_split_and_background_scaling():
    cfg = config.load("corrected")
    pot = experiment.exposures("upgrade", cfg, 2e22)
    assert sum(pot.values()) == pytest.approx(2e22)
    assert pot["fhc"] / pot["rhc"] == pytest.approx(12.34 / 6.29)
    bkg = experiment.t2k_backgrounds("upgrade", pot, nd280_backgrounds=False)
    volume = (3 * 1.70 * 1.96 * 0.563 + 2 * 1.592 * 0.27 * 1.709) / (3 * 1.70 * 1.96 * 0.563)
    assert bkg["fhc"] == pytest.approx(0.563 * pot["fhc"] / 1.234e21 * volume)
    assert bkg["rhc"] == pytest.approx(0.015 * pot["rhc"] / 6.29e20 * volume)
    assert experiment.t2k_backgrounds("nd280", experiment.exposures("nd280", cfg, None),
                                      nd280_backgrounds=False) == {
        "fhc": 0.0, "rhc": 0.0}
    with pytest.raises(InputError, match="--pot"):
        experiment.exposures("upgrade", cfg, -1.0)


def test_nd280_default_is_the_papers_three_events():
    cfg = config.load("corrected")
    cls_fn = experiment.build("nd280", cfg).cls
    assert cls_fn({"fhc": 2.0, "rhc": 0.9957}) == pytest.approx(0.05, rel=1e-3)


def test_limit_end_to_end(tmp_path):
    out = tmp_path / "m0.47"
    result = CliRunner().invoke(
        main, ["limit", "--detector", "nd280", "--mass", "0.47", "--events", "900",
               "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "excluded d_muN" in result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in ("mass_gev", "d_low", "d_high", "cl", "detector", "pot_fhc", "pot_rhc",
                "n_eff", "signal_at_d_low", "signal_at_d_high"):
        assert key in summary
    assert summary["cl"] == 0.95 and summary["pot_fhc"] == pytest.approx(1.234e21)
    # the median decay length of the simulated sample (Fig. 3 from a scan): what the
    # dedicated Fig. 3 simulation gives for the same sample
    from t2khnl import figure_data

    median = summary["median_decay_length_m"]
    assert median["d_gev_inv"] == limit.D_REF_GEV_INV
    assert median["fhc"] == figure_data.simulate_medians(
        [0.47], [couplings.D_GRID_GEV_INV[0], limit.D_REF_GEV_INV], n_events=900, seed=1)[0, 1]
    events, meta = ntuple.read(out / "selected_fhc.root")
    assert meta["selection"] == "nd280_ee" and len(events) == meta["n_events"]
    workspace = json.loads((out / "workspace_nd280.json").read_text())
    ws = counting.build_workspace({"fhc": 1.0, "rhc": 1.0})
    assert set(workspace) == set(ws)
    with uproot.open(out / "histograms.root") as file:
        assert np.all(file["fhc_e_ee"].values() >= 0)
    assert (out / "cutflow_rhc.md").read_text().startswith("| cut")
    import pyhf

    patchset = pyhf.PatchSet(json.loads((out / "patchset_nd280.json").read_text()))
    bkg_only = pyhf.Workspace(json.loads((out / "bkgonly_nd280.json").read_text()))
    assert len(patchset.patches) == len(couplings.D_GRID_GEV_INV)
    patched = patchset.apply(bkg_only, (0.47, float(couplings.D_GRID_GEV_INV[40])))
    assert patched.channels == ["fhc", "rhc"]


def _same_folder(a, b):
    """The same artefacts: text files byte for byte, ntuples' arrays and metadata,
    histograms' contents."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        if name.endswith((".json", ".md")):
            assert (a / name).read_text() == (b / name).read_text(), name
        elif name.startswith("selected_"):
            (ev_a, meta_a), (ev_b, meta_b) = ntuple.read(a / name), ntuple.read(b / name)
            assert meta_a == meta_b and ev_a.fields == ev_b.fields
            for field in ev_a.fields:
                np.testing.assert_array_equal(np.asarray(ev_a[field]), np.asarray(ev_b[field]))
        else:
            with uproot.open(a / name) as fa, uproot.open(b / name) as fb:
                assert set(fa.keys()) == set(fb.keys())
                for key in sorted(set(fa.keys())):
                    np.testing.assert_array_equal(fa[key].values(), fb[key].values())
                    np.testing.assert_array_equal(fa[key].variances(), fb[key].variances())


def test_limit_outcome_is_in_memory_and_round_trips_to_its_files(tmp_path):
    """run() writes nothing without a folder; write() gives the files run(output_dir=...)
    writes; read() of them gives the outcome back (summary, events, cut flows), which
    writes the same files again."""
    kwargs = {"n_events": 900, "seed": 2}
    outcome = limit.run("nd280", 0.47, **kwargs)
    assert isinstance(outcome, limit.LimitOutcome) and not any(tmp_path.iterdir())
    direct = limit.run("nd280", 0.47, output_dir=tmp_path / "direct", **kwargs)
    assert direct.summary == outcome.summary and direct.cutflows == outcome.cutflows
    limit.write(outcome, tmp_path / "written")
    _same_folder(tmp_path / "direct", tmp_path / "written")
    back = limit.read(tmp_path / "written", "corrected")
    assert back.summary == outcome.summary and back.cutflows == outcome.cutflows
    assert back.preset == outcome.preset
    for mine, theirs in zip(back.channels, outcome.channels, strict=True):
        assert mine.name == theirs.name and mine.efficiency == theirs.efficiency
        np.testing.assert_array_equal(np.asarray(mine.events["weight"]),
                                      np.asarray(theirs.events["weight"]))
    limit.write(back, tmp_path / "again")
    _same_folder(tmp_path / "written", tmp_path / "again")
    # the signals of the patchset are the outcome's, one per coupling of the grid
    assert len(outcome.signals) == len(couplings.D_GRID_GEV_INV)
    d = float(couplings.D_GRID_GEV_INV[40])
    assert outcome.signals[(0.47, d)] == limit.signal_function(
        outcome.channels, 0.47, outcome.preset)(d)
