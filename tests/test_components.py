"""t2khnl.components: the stages of processes from one labelled sample."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from t2khnl import components, config, limit, model, ntuple
from t2khnl.errors import InputError

MASS = 0.3


def _write(folder, rng, n=400):
    """Selected ntuples of both beams with random labels and decay geometry."""
    for beam, main in (("fhc", 14), ("rhc", -14)):
        events = ak.Array({
            "upscatter_weight": rng.uniform(0.5, 1.5, n) * 1e-18,
            "t_in_m": rng.uniform(0.0, 30.0, n),
            "decay_length_m": rng.uniform(1.0, 100.0, n),
            "channel": rng.integers(0, 3, n).astype(np.int32),
            "nu_pdg": np.where(rng.random(n) < 0.8, main, -main).astype(np.int32),
            "pauli_factor": rng.uniform(0.2, 1.0, n),
        })
        # coherent events carry no Pauli factor
        events = ak.with_field(events, np.where(events["channel"] == 0, 1.0,
                                                events["pauli_factor"]), "pauli_factor")
        events = ak.with_field(events, events["t_in_m"] + 0.5, "t_out_m")
        events = ak.with_field(events, events["upscatter_weight"], "weight")
        meta = {"efficiency": 0.07, "strata": None}
        ntuple.write(folder / f"selected_{beam}.root", events, meta)
    return {"mass_gev": MASS, "detector": "nd280", "preset": "corrected", "d_low": 2e-6,
            "pot_fhc": 1.234e21, "pot_rhc": 6.29e20, "background": {"fhc": 0.0, "rhc": 0.0},
            "d_grid_gev_inv": [1e-8, 1e-3, 81]}


def test_stages_drop_and_unblock_the_right_events(tmp_path):
    summary = _write(tmp_path, np.random.default_rng(3))
    result = components.stages(tmp_path, summary, d_gev_inv=2e-6)
    assert [r.stage for r in result] == list(components.STAGES)
    cfg = config.load("corrected")
    channels = limit.load_channels(tmp_path, summary)
    full = limit.signal_function(channels, MASS, cfg)(2e-6)
    assert result[-1].signal == pytest.approx(full, rel=1e-12)
    # by hand: each event's signal at d (the e+e- share of the decays the corrected
    # lifetimes count, Γ(ν e+e-)/Γ_total), then the stages' sums
    br = float(model.ee_fraction_of_decays(MASS, cfg.width_convention))
    for ch in channels:
        ev = ch.events
        per_event = limit._weights(ch, 2e-6, cfg) * br * ch.efficiency * ch.pot
        chan, main = ak.to_numpy(ev["channel"]), ak.to_numpy(ev["nu_pdg"]) == (
            14 if ch.name == "fhc" else -14)
        pauli = ak.to_numpy(ev["pauli_factor"])
        expected = [
            per_event[(chan == 0) & main].sum(),
            (per_event * np.where(chan == 1, 1 / pauli, 1))[(chan <= 1) & main].sum(),
            per_event[(chan <= 1) & main].sum(),
            per_event[main].sum(),
            per_event.sum(),
        ]
        got = [r.signal[ch.name] for r in result]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    # more processes, lower edge (free p-el above blocked p-el)
    lows = [r.d_low for r in result]
    assert lows[1] < lows[2] and lows[0] > lows[2] > lows[3] > lows[4]


def test_stages_need_a_preset_with_every_process(tmp_path):
    summary = _write(tmp_path, np.random.default_rng(4), n=20)
    with pytest.raises(InputError, match="lacks a process"):
        components.stages(tmp_path, summary, preset="published")
