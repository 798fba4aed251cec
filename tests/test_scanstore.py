"""The scan folder's one owner (t2khnl.scanstore): contour round trip, atomic per-mass
results, resuming, the folder's binding; and the layers (headlines below plots, plots only
draw)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from t2khnl import files
from t2khnl.errors import DataFileError, InputError
from t2khnl.scanstore import CONTOUR_COLUMNS, ScanStore, read_contour

ROOT = Path(__file__).resolve().parents[1]
CONFIG = {"detector": "nd280", "preset": "corrected", "masses_gev": [0.1, 0.2, 0.3, 0.9]}


def _result(index, mass, d_low, d_high, **extra):
    """A per-mass result as t2khnl.scan.run_mass writes it."""
    return {"index": index, "mass_gev": mass, "label": f"m{mass:010.6f}", "seed": 7 + index,
            "status": "done", "reason": None, "n_events": 300, "d_low": d_low,
            "d_high": d_high, "d_low_err": None if d_low is None else d_low / 50,
            "d_high_err": None if d_high is None else d_high / 40, "d_low_open": False,
            "d_high_open": False, "refused": None, "intervals": None, **extra}


def _results():
    return {
        2: _result(2, 0.3, 2e-7, 1e-3, d_high_open=True, d_high_err=None,
                   intervals=[[2e-7, 1e-3]]),
        0: _result(0, 0.1, 3e-7, 4e-5, intervals=[[3e-7, 2e-6], [9e-6, 4e-5]]),
        1: _result(1, 0.2, None, None),
        3: {**_result(3, 0.9, None, None), "status": "skipped", "reason": "too heavy"},
    }


def test_contour_round_trip(tmp_path):
    """What write_contour writes, read_contour reads back: every edge, error, open flag and
    interval, the metadata; the skipped mass only in the JSON."""
    store = ScanStore(tmp_path / "scan")
    store.bind(CONFIG, force=False)
    records = store.write_contour(CONFIG, _results())
    assert [r["mass_gev"] for r in records] == [0.1, 0.2, 0.3, 0.9]
    contour = read_contour(store.root)  # a scan folder: its contour.csv
    assert contour == store.contour() and contour.path == store.contour_csv
    assert [row.mass_gev for row in contour.rows] == [0.1, 0.2, 0.3]
    by_mass = {r["mass_gev"]: r for r in records}
    for row in contour.rows:
        for column in CONTOUR_COLUMNS:
            assert getattr(row, column) == by_mass[row.mass_gev][column], (row, column)
    assert [row.d_high_open for row in contour.rows] == [False, False, True]
    assert contour.rows[0].intervals == ((3e-7, 2e-6), (9e-6, 4e-5))
    assert contour.holes == ((0, 2e-6, 9e-6),)
    assert contour.metadata["detector"] == "nd280" and contour.metadata["n_skipped"] == 1
    assert contour.metadata["columns"] == list(CONTOUR_COLUMNS)
    # the arrays for drawing: NaN where nothing is quoted
    assert contour.mass_mev.tolist() == [100.0, 200.0, 300.0]
    assert np.isnan(contour.d_low[1]) and contour.d_low[0] == 3e-7
    assert np.isnan(contour.d_high_err[2]) and contour.d_high_err[0] == 4e-5 / 40
    # the records as the headline numbers read them: finished masses only
    assert [r["mass_gev"] for r in store.records()] == [0.1, 0.2, 0.3]
    header = store.contour_csv.read_text().splitlines()[0]
    assert header == ",".join(CONTOUR_COLUMNS)
    # a copy (as reproduce makes) reads the same, its JSON twin beside it
    store.copy_contour(tmp_path / "contour_nd280_2019.csv")
    copy = read_contour(tmp_path / "contour_nd280_2019.csv")
    assert copy.rows == contour.rows and copy.metadata == contour.metadata


def test_without_json_the_grid_ends_are_open(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(",".join(CONTOUR_COLUMNS) + "\n0.5,1.5e-07,0.001,5e-09,\n0.1,2e-7,3e-5,,\n")
    contour = read_contour(path)
    assert [r.mass_gev for r in contour.rows] == [0.1, 0.5]  # sorted by mass
    assert [r.d_high_open for r in contour.rows] == [False, True]
    assert contour.metadata == {} and contour.holes == ()


@pytest.mark.parametrize(("text", "message"), [
    ("mass_gev,d_low\n0.1,2e-7\n", "lacks the column"),
    (",".join(CONTOUR_COLUMNS) + "\n", "has no rows"),
    (",".join(CONTOUR_COLUMNS) + "\n0.1,2e-7,,,\n0.1,3e-7,,,\n", "twice"),
    (",".join(CONTOUR_COLUMNS) + "\n0.1,-2e-7,,,\n", "must be positive"),
])
def test_malformed_contours_are_refused(tmp_path, text, message):
    path = tmp_path / "contour.csv"
    path.write_text(text)
    with pytest.raises(DataFileError, match=message):
        read_contour(path)


def test_per_mass_result_is_written_atomically(tmp_path, monkeypatch):
    """The result appears whole or not at all, with the umask's mode; a failed rewrite
    keeps the previous one and leaves no temporary file."""
    store = ScanStore(tmp_path)
    store.bind(CONFIG, force=False)
    path = store.write_mass_result(0.2, _result(1, 0.2, None, None))
    assert path == store.masses_dir / "m000.200000.json"
    assert (path.stat().st_mode & 0o777) == files.file_mode()
    assert store.read_mass_result(0.2)["mass_gev"] == 0.2

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.write_mass_result(0.2, _result(1, 0.2, 1e-7, 1e-5))
    assert store.read_mass_result(0.2)["d_low"] is None  # the old result, whole
    assert sorted(p.name for p in store.masses_dir.iterdir()) == ["m000.200000.json"]
    with pytest.raises(DataFileError, match=r"m000\.300000\.json"):
        store.read_mass_result(0.3)


def test_resume_reads_finished_masses(tmp_path, caplog):
    """A rerun skips the masses whose results are on disk; an unreadable one is redone."""
    store = ScanStore(tmp_path)
    store.bind(CONFIG, force=False)
    store.write_mass_result(0.3, _result(2, 0.3, 2e-7, 3e-5))
    store.write_mass_result(0.1, _result(0, 0.1, 3e-7, 4e-5))
    store.mass_file(0.2).write_text("{half a resu")
    store.write_mass_result(0.7, _result(5, 0.7, 1e-7, 1e-5))  # not among the masses asked
    with caplog.at_level("WARNING"):
        done = store.finished([0.1, 0.2, 0.3])
    assert sorted(done) == [0, 2] and done[2]["mass_gev"] == 0.3
    assert "recomputing m_N = 0.2 GeV" in caplog.text
    with pytest.raises(DataFileError, match=r"m000\.200000\.json"):
        list(store.mass_results())


def test_bind_refuses_another_configuration(tmp_path):
    store = ScanStore(tmp_path / "scan")
    store.bind(CONFIG, force=False)
    store.bind(CONFIG, force=False)  # the same configuration: resumed
    store.write_mass_result(0.1, _result(0, 0.1, 3e-7, 4e-5))
    store.write_contour(CONFIG, {0: _result(0, 0.1, 3e-7, 4e-5)})
    other = {**CONFIG, "preset": "published"}
    with pytest.raises(InputError, match="differs in preset"):
        store.bind(other, force=False)
    assert store.mass_file(0.1).is_file()
    store.bind(other, force=True)
    assert json.loads(store.scan_file.read_text()) == other
    assert not store.mass_file(0.1).exists() and not store.contour_csv.exists()
    assert store.masses_dir.is_dir()


def test_mass_likelihood_pairs(tmp_path):
    store = ScanStore(tmp_path)
    with pytest.raises(DataFileError, match="no masses"):
        store.mass_likelihoods("nd280")
    for mass in (0.3, 0.1):
        store.mass_dir(mass).mkdir(parents=True)
        (store.mass_dir(mass) / "bkgonly_nd280.json").write_text("{}")
        (store.mass_dir(mass) / "patchset_nd280.json").write_text("{}")
    assert store.has_mass_likelihoods("nd280") and not store.has_mass_likelihoods("upgrade")
    pairs = store.mass_likelihoods("nd280")
    assert [b.parent.name for b, _ in pairs] == ["m000.100000", "m000.300000"]
    (store.mass_dir(0.3) / "patchset_nd280.json").unlink()
    with pytest.raises(DataFileError, match="has no patchset beside it"):
        store.mass_likelihoods("nd280")


# ------------------------------------------------------------------------------ layers
def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code (lazy imports included),
    relative imports resolved inside t2khnl."""
    package = "t2khnl.plots" if path.parent.name == "plots" else "t2khnl"
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (f"import sys\nfor m in {modules!r}: __import__(m)\n"
            "print(' '.join(sorted(k for k in sys.modules if k.startswith('t2khnl'))))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300)
    return set(run.stdout.split())


def test_headlines_do_not_import_plots():
    """The headline numbers take their limit data from below the plots."""
    for name in ("headlines.py", "constraints_data.py", "scanstore.py", "hepdata.py"):
        imported = _imports(ROOT / "t2khnl" / name)
        assert not any(m.startswith("t2khnl.plots") for m in imported), (name, imported)
    loaded = _loaded_after_import(["t2khnl.headlines"])
    assert "t2khnl.headlines" in loaded and "t2khnl.plots" not in loaded


def test_plots_only_draw():
    """No plotting module runs a simulation (t2khnl.generate), a cross section (t2khnl.xsec)
    or a limit (t2khnl.limit), even lazily: the pipeline hands them their data."""
    modules = sorted((ROOT / "plots").glob("*.py"))
    assert len(modules) >= 6
    computing = ("t2khnl.generate", "t2khnl.xsec", "t2khnl.limit")
    for path in modules:
        imported = _imports(path)
        assert not any(m.startswith(computing) for m in imported), path.name
    pytest.importorskip("matplotlib")
    loaded = _loaded_after_import([f"t2khnl.plots.{p.stem}" for p in modules
                                   if p.stem != "__init__"])
    assert "t2khnl.plots.vertices" in loaded and "t2khnl.generate" not in loaded


def test_doctests_of_the_scan_modules():
    """The examples in the docstrings of the mass parsing and precision modules hold."""
    import doctest

    from t2khnl import masses, precision

    for module in (masses, precision):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
