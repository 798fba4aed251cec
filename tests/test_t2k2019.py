"""The T2K 2019 facts are defined once and the presets and the geometry agree with them."""

from __future__ import annotations

import pytest

from t2khnl import afh, config, counting, experiment, kaon, t2k2019
from t2khnl.errors import InputError
from t2khnl.geometry import spec


@pytest.mark.parametrize("preset", config.PRESETS)
def test_presets_state_the_2019_exposure(preset):
    cfg = config.load(preset)
    assert {beam: cfg.pot("nd280", beam) for beam in t2k2019.POT} == t2k2019.POT


def test_modules_use_the_one_exposure():
    assert (kaon.POT_ND280_2019_FHC, kaon.POT_ND280_2019_RHC) == (1.234e21, 6.29e20)
    assert (t2k2019.POT["fhc"], t2k2019.POT["rhc"]) == afh._POT_WEIGHTS
    assert counting.T2K_2019_BACKGROUND is t2k2019.BACKGROUND


def test_fiducial_volumes_come_from_the_geometry_files():
    # three TPCs of 1.70 x 1.96 x 0.563 m, plus two HA-TPCs of 1.592 x 0.27 x 1.709 m
    tpc, hatpc = 1.70 * 1.96 * 0.563, 1.592 * 0.27 * 1.709
    assert spec.fiducial_volume_m3("nd280") == pytest.approx(3 * tpc, rel=1e-12)
    assert spec.fiducial_volume_m3("nd280upgrade") == pytest.approx(3 * tpc + 2 * hatpc,
                                                                    rel=1e-12)
    assert [b.name for b in spec.fiducial_boxes("nd280upgrade")] == [
        "TPC1", "TPC2", "TPC3", "HATPC_top", "HATPC_bottom"]
    assert experiment.upgrade_volume_ratio() == pytest.approx(1.2610623503, rel=1e-10)


def test_backgrounds_flag_is_nd280_only():
    pot = {"fhc": 2.468e21, "rhc": 1.258e21}  # twice 2019
    on = experiment.t2k_backgrounds("nd280", pot, nd280_backgrounds=True)
    assert on == pytest.approx({"fhc": 2 * 0.563, "rhc": 2 * 0.015})
    assert experiment.t2k_backgrounds("nd280", pot, nd280_backgrounds=False) == {
        "fhc": 0.0, "rhc": 0.0}
    # the upgrade's sensitivity always carries the scaled backgrounds
    ratio = experiment.upgrade_volume_ratio()
    for flag in (True, False):
        upg = experiment.t2k_backgrounds("upgrade", pot, nd280_backgrounds=flag)
        assert upg == pytest.approx({"fhc": 2 * 0.563 * ratio, "rhc": 2 * 0.015 * ratio})
    with pytest.raises(InputError, match="detector"):
        experiment.t2k_backgrounds("nd281", pot, nd280_backgrounds=True)


def test_pot_split():
    split = t2k2019.pot_split(2e22)
    assert sum(split.values()) == pytest.approx(2e22)
    assert split["fhc"] / split["rhc"] == pytest.approx(12.34 / 6.29)
