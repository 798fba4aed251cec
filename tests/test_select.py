"""Selections: YAML loading and validation, each cut on known kinematics, efficiency, cut flow."""

from __future__ import annotations

import itertools
import logging
import shutil
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import yaml

from t2khnl import select
from t2khnl.errors import DataFileError, InputError
from t2khnl.flux import data_folder

ROOT = Path(__file__).resolve().parents[1]
TABLE = data_folder() / "efficiency" / "t2k2019_ee_nu_efficiency.txt"
M_E = 0.51099895e-3  # GeV

BOXES = [
    {"name": "TPC1", "centre_m": [0.0, 0.0, -0.375], "widths_m": [1.70, 1.96, 0.563]},
    {"name": "TPC2", "centre_m": [0.0, 0.0, 0.990], "widths_m": [1.70, 1.96, 0.563]},
    {"name": "TPC3", "centre_m": [0.0, 0.0, 2.355], "widths_m": [1.70, 1.96, 0.563]},
]
UPGRADE_BOXES = [
    *BOXES,
    {"name": "HATPC_top", "centre_m": [0.0, 0.74, -2.205], "widths_m": [1.592, 0.27, 1.709]},
    {"name": "HATPC_bottom", "centre_m": [0.0, -0.74, -2.205],
     "widths_m": [1.592, 0.27, 1.709]},
]


def _metadata(detector: str = "nd280", mass_gev: float = 0.3) -> dict[str, Any]:
    boxes = BOXES if detector == "nd280" else UPGRADE_BOXES
    return {"detector": detector, "mass_gev": mass_gev, "preset": "corrected",
            "fiducial_volumes": boxes}


def _events(
    n: int,
    *,
    opening_deg: Any = 20.0,
    cos_n: Any = 1.0,
    fv_index: Any = 0,
    vertex: Any = (0.0, 0.0, -0.375),
    weight: Any = 1.0e-20,
) -> ak.Array:
    """Events with chosen kinematics: pair in the x-z plane, symmetric about +z."""
    half = np.radians(np.broadcast_to(np.asarray(opening_deg, dtype=float), (n,))) / 2
    cos_n = np.broadcast_to(np.asarray(cos_n, dtype=float), (n,))
    p_lep, p_hnl, m_hnl = 0.2, 1.0, 0.3
    vtx = np.broadcast_to(np.asarray(vertex, dtype=float), (n, 3))
    zeros = np.zeros(n)
    e_lep = np.full(n, np.hypot(p_lep, M_E))
    return ak.Array({
        "weight": np.broadcast_to(np.asarray(weight, dtype=float), (n,)).copy(),
        "fv_index": np.broadcast_to(np.asarray(fv_index, dtype=np.int64), (n,)).copy(),
        "dec_x": vtx[:, 0].copy(), "dec_y": vtx[:, 1].copy(), "dec_z": vtx[:, 2].copy(),
        "hnl_e": np.full(n, np.hypot(p_hnl, m_hnl)),
        "hnl_px": p_hnl * np.sqrt(1 - cos_n**2), "hnl_py": zeros, "hnl_pz": p_hnl * cos_n,
        "ep_e": e_lep, "ep_px": p_lep * np.sin(half), "ep_py": zeros,
        "ep_pz": p_lep * np.cos(half),
        "em_e": e_lep, "em_px": -p_lep * np.sin(half), "em_py": zeros,
        "em_pz": p_lep * np.cos(half),
    })


def _table() -> tuple[np.ndarray, np.ndarray]:
    """The efficiency table read independently of t2khnl: masses [MeV], min of columns."""
    data = np.loadtxt(TABLE, comments="#")
    return data[:, 0], np.minimum(data[:, 1], data[:, 2])


def _write_selection(tmp_path: Path, base: str, edit: Any) -> Path:
    spec = yaml.safe_load((ROOT / "selections" / f"{base}.yaml").read_text())
    edit(spec)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


# --- loading -------------------------------------------------------------------------
def test_packaged_selections_load_and_match_geometry():
    assert set(select.available()) >= {
        "nd280_ee", "upgrade_ee", "nd280_ee_published", "upgrade_ee_published"}
    geometry = {
        "nd280": yaml.safe_load((ROOT / "geometry" / "nd280.yaml").read_text()),
        "upgrade": yaml.safe_load((ROOT / "geometry" / "nd280upgrade.yaml").read_text()),
    }
    for name in select.available():
        sel = select.load(name)
        assert sel.name == name
        names = [b["name"] for b in geometry[sel.detector]["fiducial"]]
        assert list(sel.fiducial_volumes()) == names
        assert "1902.07598" in sel.efficiency.citation
        assert sel.efficiency.table == "efficiency/t2k2019_ee_nu_efficiency.txt"


def test_corrected_and_published_cuts():
    kinds = {n: {c.kind: c.params for c in select.load(n).cuts} for n in select.available()}
    for det in ("nd280", "upgrade"):
        corrected, published = kinds[f"{det}_ee"], kinds[f"{det}_ee_published"]
        assert corrected["opening_angle_max"]["deg"] == 90.0
        assert corrected["cos_theta_n_min"]["value"] == 0.992
        assert "opening_angle_max" not in published
        assert published["cos_theta_n_min"]["value"] == 0.999
        assert published["pair_energy_min"]["gev"] == pytest.approx(2 * 0.511e-3)


def test_unknown_selection_name():
    with pytest.raises(InputError, match="unknown selection 'nope'"):
        select.load("nope")


def test_unknown_cut_is_named(tmp_path):
    path = _write_selection(
        tmp_path, "nd280_ee", lambda s: s["cuts"].append({"cut": "missing_pt_max", "gev": 1})
    )
    with pytest.raises(InputError, match=r"cuts\[3\] has unknown cut 'missing_pt_max'"):
        select.load(path)


def test_schema_violation_names_the_path(tmp_path):
    path = _write_selection(tmp_path, "nd280_ee", lambda s: s["cuts"][1].pop("deg"))
    with pytest.raises(InputError, match="cuts/1"):
        select.load(path)
    path = _write_selection(tmp_path, "nd280_ee", lambda s: s.update(detector="sk"))
    with pytest.raises(InputError, match="detector"):
        select.load(path)


def test_unknown_fiducial_volume_is_named(tmp_path):
    path = _write_selection(
        tmp_path, "nd280_ee", lambda s: s["cuts"][0].update(volumes=["TPC1", "TPC9"])
    )
    sel = select.load(path)
    with pytest.raises(InputError, match=r"'TPC9' \(cuts\[0\]\).*TPC1, TPC2, TPC3"):
        select.apply(_events(3), _metadata(), sel)


def test_detector_mismatch():
    with pytest.raises(InputError, match="ntuple is for upgrade, selection is for nd280"):
        select.apply(_events(2), _metadata("upgrade"), select.load("nd280_ee"))


def test_missing_branch_is_named():
    events = ak.without_field(_events(2), "em_px")
    with pytest.raises(InputError, match="'em_px'"):
        select.apply(events, _metadata(), select.load("nd280_ee"))


# --- cuts ----------------------------------------------------------------------------
def _passes(events: ak.Array, name: str = "nd280_ee", **meta: Any) -> np.ndarray:
    return select.apply(events, _metadata(**meta), select.load(name)).mask


def test_opening_angle_cut():
    angles = np.array([0.0, 1.0, 89.0, 91.0, 179.0, 180.0])
    assert _passes(_events(6, opening_deg=angles)).tolist() == [
        True, True, True, False, False, False]
    # the published selection has no opening-angle cut
    assert _passes(_events(6, opening_deg=angles), "nd280_ee_published").all()


def test_cos_theta_n_cut():
    cosines = np.array([0.99, 0.9915, 0.9925, 0.995, 0.9995, 1.0])
    assert _passes(_events(6, cos_n=cosines)).tolist() == [
        False, False, True, True, True, True]
    assert _passes(_events(6, cos_n=cosines), "nd280_ee_published").tolist() == [
        False, False, False, False, True, True]
    backwards = _events(1, cos_n=-1.0)
    assert not _passes(backwards).any()


def test_fiducial_cut():
    centres = [b["centre_m"] for b in BOXES]
    vertex = np.array([*centres, [0.0, 0.0, -0.375 + 0.3], [0.86, 0.0, 0.99], [0.84, 0.97, 2.6]])
    fv = np.array([0, 1, 2, 0, 1, 2])
    # inside TPC1/2/3; 0.3 m > 0.563/2 off in z; 0.86 > 0.85 in x; a corner just inside
    assert _passes(_events(6, fv_index=fv, vertex=vertex)).tolist() == [
        True, True, True, False, False, True]
    # an index outside the selection's volumes, or no box at all, fails
    assert not _passes(_events(2, fv_index=np.array([-1, 7]))).any()


def test_fiducial_subset_and_upgrade(tmp_path):
    path = _write_selection(tmp_path, "nd280_ee", lambda s: s["cuts"][0].update(volumes=["TPC2"]))
    vertex = np.array([b["centre_m"] for b in BOXES])
    sel = select.load(path)
    mask = select.apply(_events(3, fv_index=[0, 1, 2], vertex=vertex), _metadata(), sel).mask
    assert mask.tolist() == [False, True, False]
    vertex = np.array([b["centre_m"] for b in UPGRADE_BOXES])
    events = _events(5, fv_index=np.arange(5), vertex=vertex)
    assert _passes(events, "upgrade_ee", detector="upgrade").all()


def test_pair_energy_cut_is_trivially_true():
    rng = np.random.default_rng(3)
    n = 1000
    events = _events(n, opening_deg=rng.uniform(0, 180, n), cos_n=rng.uniform(0.9995, 1, n))
    result = select.apply(events, _metadata(), select.load("nd280_ee_published"))
    energy_row = next(r for r in result.cutflow if r.cut.startswith("E(e+)"))
    assert energy_row.raw == n
    # even at threshold, E_ee >= m_ee >= 2 m_e; only the authors' rounded 2 * 0.511 MeV
    # lies a hair above 2 m_e
    assert 2 * M_E < 2 * 0.511e-3 < 2 * M_E * 1.0001


# --- efficiency ----------------------------------------------------------------------
def test_efficiency_at_nodes_and_flat_outside():
    mass_mev, eff = _table()
    for m, e in zip(mass_mev, eff, strict=True):
        assert select.efficiency(m / 1e3) == pytest.approx(e, rel=1e-12)
    assert select.efficiency(0.010) == pytest.approx(eff[0])
    assert select.efficiency(0.1499) == pytest.approx(eff[0])
    assert select.efficiency(0.476) == pytest.approx(eff[-1])
    assert select.efficiency(2.0) == pytest.approx(eff[-1])
    assert eff[0] == pytest.approx(0.063) and eff[-1] == pytest.approx(0.071)
    middle = 0.5 * (eff[4] + eff[5])
    assert select.efficiency((mass_mev[4] + mass_mev[5]) / 2e3) == pytest.approx(middle)


def test_published_efficiency_resampling():
    mass_mev, eff = _table()
    grid = np.arange(10.0, 2025.0, 25.0)
    on_grid = np.interp(grid, mass_mev, eff)
    for m in (0.1, 0.15, 0.2, 0.35, 0.4, 0.475, 1.0):
        expected = np.interp(m * 1e3, grid, on_grid)
        got = select.efficiency(m, resample_grid_mev=(10, 2000, 25))
        assert got == pytest.approx(expected, rel=1e-12)
    assert select.efficiency(0.15, resample_grid_mev=(10, 2000, 25)) == pytest.approx(0.06588)


def test_efficiency_rejects_bad_mass():
    for bad in (0.0, -0.1, float("nan")):
        with pytest.raises(InputError, match="HNL mass"):
            select.efficiency(bad)


def test_non_monotonic_efficiency_table(tmp_path):
    bad = tmp_path / "eff.txt"
    bad.write_text("# M_N eff1 eff2\n150 0.069 0.063\n200 0.089 0.080\n175 0.082 0.075\n")
    with pytest.raises(DataFileError, match=r"eff\.txt.*strictly increasing"):
        select.read_efficiency_table(bad)


def test_modified_efficiency_table_is_refused(tmp_path):
    (tmp_path / "efficiency").mkdir()
    copy = tmp_path / "efficiency" / TABLE.name
    shutil.copy(TABLE, copy)
    copy.write_text(copy.read_text().replace("175 0.082", "125 0.082"))
    with pytest.raises(DataFileError, match=r"t2k2019_ee_nu_efficiency\.txt.*sha256"):
        select.efficiency(0.3, data_dir=tmp_path)


def test_packaged_table_parses():
    table = select.read_efficiency_table(TABLE)
    assert table.columns.shape == (2, 14)
    assert (np.diff(table.mass_mev) == 25).all()


# --- apply and cut flow --------------------------------------------------------------
def test_cutflow_and_selected_weights(caplog):
    rng = np.random.default_rng(7)
    n = 2000
    fv = rng.integers(-1, 3, n)
    vertex = np.array([b["centre_m"] for b in BOXES])[np.clip(fv, 0, 2)]
    vertex = vertex + rng.uniform(-0.4, 0.4, (n, 3))
    weight = rng.uniform(0.5, 2.0, n) * 1e-21
    events = _events(n, opening_deg=rng.uniform(0, 180, n), cos_n=rng.uniform(0.98, 1, n),
                     fv_index=fv, vertex=vertex, weight=weight)
    with caplog.at_level(logging.INFO, logger="t2khnl.select"):
        result = select.apply(events, _metadata(mass_gev=0.3), select.load("nd280_ee"))
    rows = result.cutflow
    assert rows[0].cut == "all events" and len(rows) == 5
    assert rows[0].raw == n and rows[0].weighted_per_pot == pytest.approx(weight.sum())
    raws = [r.raw for r in rows]
    sums = [r.weighted_per_pot for r in rows]
    assert raws == sorted(raws, reverse=True)
    assert all(b <= a for a, b in itertools.pairwise(sums))
    assert 0 < rows[-1].raw < n
    eff = select.efficiency(0.3)
    assert result.efficiency == eff
    assert len(result.events) == rows[-1].raw == int(result.mask.sum())
    np.testing.assert_allclose(
        ak.to_numpy(result.events["weight_selected"]), weight[result.mask] * eff, rtol=1e-15)
    assert rows[-1].weighted_per_pot == pytest.approx(weight[result.mask].sum() * eff)
    assert "pass" in caplog.text
    text = select.cutflow_table(rows, pot=1.234e21)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert "cos theta_N > 0.992" in text and "expected at 1.234e+21 POT" in text


def test_empty_events():
    result = select.apply(_events(0), _metadata(), select.load("nd280_ee"))
    assert len(result.events) == 0
    assert all(r.raw == 0 for r in result.cutflow)
    assert "nan" in select.cutflow_table(result.cutflow)


def test_packaged_schemas_are_valid_json_schemas():
    """config.check_schema skips checking the schema itself; the packaged ones are checked
    here."""
    import jsonschema

    from t2khnl import config

    for schema in (config._schema(), select._schema()):
        jsonschema.validators.validator_for(schema).check_schema(schema)
    with pytest.raises(InputError, match="invalid preset at injection"):
        config.validate({**config.load("corrected").to_dict(), "injection": 5})
