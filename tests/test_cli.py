"""The ``t2khnl`` command line: bad inputs fail fast with one line and exit code 2, and an
end-to-end run of the installed console script writes a readable ntuple.

The slow test runs :func:`t2khnl.generate.simulate` over detectors, beams and masses.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import t2khnl
import t2khnl.geometry
from t2khnl import cli, files, generate, ntuple, xsec
from t2khnl.flux import data_folder

FLUX_FHC = "flux/T2K_PLUS_250kA.dat"
FLUX_RHC = "flux/T2K_MINUS_250kA.dat"


@pytest.fixture
def no_expensive_work(monkeypatch):
    """Fail loudly if a run gets as far as the geometry or the cross-section tables."""
    def reached(*args, **kwargs):
        raise AssertionError("bad input was not rejected before the expensive set-up")

    monkeypatch.setattr(xsec, "build_tables", reached)
    monkeypatch.setattr(t2khnl.geometry, "load", reached)


def _invoke(args: list[str]):
    return CliRunner().invoke(cli.main, args)


def _copy_data(folder: Path, names: list[str]) -> Path:
    """A data folder holding only ``names`` (copied from the real one)."""
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_folder() / name, folder / name)
    return folder


def _assert_one_line_error(result, *words: str, code: int = 2) -> str:
    """One line on stderr, naming words; exit code 2 for bad input, 1 for a failure."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("t2khnl: error: "), line
    for word in words:
        assert word.lower() in line.lower(), (word, line)
    return line


BAD_INPUTS = {
    "unknown detector": (["--detector", "superk"], ["detector", "superk", "nd280"]),
    "unknown beam": (["--beam", "numi"], ["beam", "numi", "fhc"]),
    "unknown preset": (["--preset", "paper"], ["preset", "paper", "corrected"]),
    "zero mass": (["--mass", "0"], ["mass", "0.0 GeV"]),
    "negative mass": (["--mass", "-0.3"], ["mass", "-0.3 GeV"]),
    "nan mass": (["--mass", "nan"], ["mass", "nan"]),
    "zero coupling": (["--coupling", "0"], ["coupling", "GeV^-1", "0.0"]),
    "negative coupling": (["--coupling", "-1e-6"], ["coupling", "-1e-06"]),
    "zero events": (["--events", "0"], ["number of events", "0"]),
    "negative events": (["--events", "-10"], ["number of events", "-10"]),
    "missing data folder": (["--data-dir", "/nonexistent/t2khnl-data"],
                            ["data folder", "/nonexistent/t2khnl-data"]),
}


@pytest.mark.usefixtures("no_expensive_work")
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input(tmp_path, case):
    args, words = BAD_INPUTS[case]
    out = tmp_path / "out" / "events.root"
    out.parent.mkdir()
    result = _invoke(["simulate", *args, "--output", str(out)])
    _assert_one_line_error(result, *words)
    assert list(out.parent.iterdir()) == []


@pytest.mark.usefixtures("no_expensive_work")
def test_missing_flux_file(tmp_path):
    data = _copy_data(tmp_path / "data", [FLUX_RHC])
    out = tmp_path / "events.root"
    result = _invoke(["simulate", "--beam", "fhc", "--data-dir", str(data), "--events", "100",
                      "--output", str(out)])
    _assert_one_line_error(result, "T2K_PLUS_250kA.dat", "not found", str(data), code=1)
    assert not out.exists()


@pytest.mark.usefixtures("no_expensive_work")
def test_corrupt_flux_file(tmp_path):
    data = _copy_data(tmp_path / "data", [FLUX_FHC, FLUX_RHC])
    path = data / FLUX_FHC
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit in the middle of the table
    path.write_bytes(bytes(raw))
    out = tmp_path / "events.root"
    result = _invoke(["simulate", "--data-dir", str(data), "--events", "100",
                      "--output", str(out)])
    _assert_one_line_error(result, "T2K_PLUS_250kA.dat", "sha256", "corrupt", code=1)
    assert not out.exists()


@pytest.mark.usefixtures("no_expensive_work")
def test_unwritable_output(tmp_path):
    out = tmp_path / "missing-folder" / "events.root"
    result = _invoke(["simulate", "--events", "100", "--output", str(out)])
    _assert_one_line_error(result, "cannot write", "missing-folder", "does not exist")
    assert not out.parent.exists()


@pytest.mark.usefixtures("no_expensive_work")
def test_output_under_a_file(tmp_path):
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("x")
    result = _invoke(["simulate", "--events", "100", "--output", str(blocker / "out.root")])
    _assert_one_line_error(result, "cannot write", "somefile.txt")
    assert blocker.read_text() == "x"


@pytest.mark.usefixtures("no_expensive_work")
@pytest.mark.parametrize(("args", "words"), [
    (["--mass", "heavy"], ["--mass", "heavy", "float", "simulate --help"]),
    (["--events", "1.5"], ["--events", "1.5"]),
    (["--output", "."], ["--output", "directory"]),
    (["--colour", "red"], ["no such option", "--colour"]),
    (["--detector", "SuperK"], ["--detector", "superk", "nd280", "upgrade"]),
    (["--preset", "missing.yaml"], ["--preset", "missing.yaml", "does not exist"]),
])
def test_usage_errors_are_one_line(tmp_path, args, words):
    result = _invoke(["simulate", *args])
    _assert_one_line_error(result, *words)
    assert not isinstance(result.exception, AssertionError)


def test_help_lists_the_choices_and_the_events_cap():
    """--detector, --beam and --preset show their choices (a preset also as a YAML file);
    the reruns cap in scan's help is the code's constant."""
    from t2khnl.scan import MAX_EVENTS_FACTOR

    simulate = " ".join(_invoke(["simulate", "--help"]).stdout.split())
    assert "--detector [nd280|upgrade]" in simulate and "--beam [fhc|rhc]" in simulate
    assert "--preset [corrected|published|FILE.yaml]" in simulate
    assert "YAML file" in simulate
    scan_help = " ".join(_invoke(["scan", "--help"]).stdout.split())
    assert f"up to {MAX_EVENTS_FACTOR}x --events" in scan_help
    assert "--d-range LO:HI" in scan_help and "1e-08:0.001" in scan_help
    assert "--scheduler-file" in scan_help
    reproduce = " ".join(_invoke(["reproduce", "--help"]).stdout.split())
    assert "--preset [corrected|published]" in reproduce and "--scheduler-file" in reproduce


def test_readme_states_the_events_cap():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    from t2khnl.scan import MAX_EVENTS_FACTOR

    caps = re.findall(r"up to (\d+)x `--events`", readme)
    assert caps and set(caps) == {str(MAX_EVENTS_FACTOR)}, caps


@pytest.mark.usefixtures("no_expensive_work")
def test_preset_file_is_accepted(tmp_path):
    """A preset YAML path passes the --preset choice (its content is checked later)."""
    preset = tmp_path / "mine.yaml"
    preset.write_text("name: mine\n")
    result = _invoke(["simulate", "--preset", str(preset), "--output", str(tmp_path / "x.root")])
    _assert_one_line_error(result, "invalid preset")


def test_version():
    result = _invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"t2khnl, version {t2khnl.__version__}"


def test_help_mentions_units():
    result = _invoke(["simulate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--mass" in text and "[GeV]" in text
    assert "--coupling" in text and "[GeV^-1]" in text
    for option in ("--detector", "--beam", "--events", "--seed", "--preset", "--data-dir",
                   "--output"):
        assert option in text


def _console_script() -> list[str]:
    """The installed ``t2khnl`` console script (falls back to ``python -m t2khnl.cli``)."""
    beside = Path(sys.executable).with_name("t2khnl")
    found = str(beside) if beside.exists() else shutil.which("t2khnl")
    return [found] if found else [sys.executable, "-m", "t2khnl.cli"]


SUMMARY = re.compile(
    r"^(?P<n>\d+) events written to (?P<name>\S+); expected N -> nu gamma decays in the "
    r"fiducial volumes for (?P<pot>\S+) POT: (?P<expected>\S+) ± (?P<err>\S+) \(MC\); "
    r"wall time (?P<wall>[\d.]+) s$"
)


def _simulate_600(out: Path) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "T2KHNL_DATA_DIR"}
    return subprocess.run(
        [*_console_script(), "simulate", "--detector", "nd280", "--beam", "fhc", "--mass",
         "0.47", "--coupling", "1.25e-6", "--events", "600", "--seed", "7", "--output",
         str(out)],
        capture_output=True, text=True, cwd=out.parent, env=env, timeout=300, check=False,
    )


def test_end_to_end(tmp_path):
    out = tmp_path / "nd280_fhc.root"
    proc = _simulate_600(out)
    assert proc.returncode == 0, proc.stderr
    # The summary is the last line of stdout (DarkNews logs its form-factor warnings to
    # stdout through its own handler, above it).
    lines = proc.stdout.splitlines()
    assert lines, proc.stderr
    assert all(line.startswith("Warning: nuclear density") for line in lines[:-1]), lines
    match = SUMMARY.match(lines[-1])
    assert match, lines[0]
    assert "Traceback" not in proc.stderr

    events, meta = ntuple.read(out)
    assert int(match["n"]) == len(events) == meta["n_events"] > 0
    assert match["name"] == out.name
    assert float(match["expected"]) == pytest.approx(meta["expected_decays"], rel=1e-3)
    assert float(match["wall"]) > 0
    weight = np.asarray(events["weight"])
    assert np.all(np.isfinite(weight)) and np.all(weight >= 0) and weight.sum() > 0
    assert weight.sum() * meta["nominal_pot"] == pytest.approx(meta["expected_decays"],
                                                               rel=1e-9)
    assert meta["mass_gev"] == 0.47
    assert meta["d_gev_inv"] == 1.25e-6
    assert meta["mu_tr_gev_inv"] == pytest.approx(2 * 1.25e-6, rel=1e-12)
    assert (meta["detector"], meta["beam"], meta["preset"]) == ("nd280", "fhc", "corrected")
    assert meta["n_injected"] == 600
    assert meta["seed"] == 7
    assert set(meta["versions"]) >= {"siren", "DarkNews", "t2khnl"}
    assert meta["versions"]["t2khnl"] == t2khnl.__version__
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files left
    assert stat.S_IMODE(out.stat().st_mode) == files.file_mode()  # not mkstemp's 0600

    # The same command again, a second or more later, into a file of the same name
    # elsewhere: the same bytes (ROOT's time stamps and UUID no longer differ).
    again = tmp_path / "again"
    again.mkdir()
    assert _simulate_600(again / out.name).returncode == 0
    assert (again / out.name).read_bytes() == out.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("mass_gev", [0.05, 0.47, 1.0])
@pytest.mark.parametrize("beam", ["fhc", "rhc"])
@pytest.mark.parametrize("detector", ["nd280", "upgrade"])
def test_simulate_grid(detector, beam, mass_gev):
    d_gev_inv = 1.25e-6
    run = generate.simulate(detector, beam, mass_gev, d_gev_inv, n_events=2000, seed=11)
    meta = run.metadata
    expected = meta["expected_decays"]
    print(f"\n{detector} {beam} m={mass_gev} GeV: expected decays {expected:.4g} "
          f"± {meta['expected_decays_mc_error']:.2g} (MC), {meta['n_events']} events")
    assert math.isfinite(expected) and expected > 0
    assert 0 < meta["expected_decays_mc_error"] < expected
    assert meta["n_events"] == len(run.events) > 0
    assert (meta["detector"], meta["beam"], meta["mass_gev"]) == (detector, beam, mass_gev)
    assert meta["n_injected"] == 2000
    assert meta["mu_tr_gev_inv"] == pytest.approx(2 * d_gev_inv)
    assert meta["nominal_pot"] > 0
    by_fv = sum(v["expected"] for v in meta["expected_by_fiducial_volume"].values())
    by_region = sum(v["expected"] for v in meta["expected_by_region"].values())
    assert by_fv == pytest.approx(expected, rel=1e-9)
    assert by_region == pytest.approx(expected, rel=1e-9)
    weight = np.asarray(run.events["weight"])
    assert np.all(np.isfinite(weight)) and np.all(weight >= 0)
    assert np.all(np.asarray(run.events["decay_probability"]) <= 1)
    assert np.all(np.asarray(run.events["hnl_e"]) >= mass_gev * (1 - 1e-9))


def test_limit_summary_names_an_open_edge():
    summary = {
        "detector": "nd280", "mass_gev": 0.05, "preset": "corrected", "analysis": "observed",
        "cl": 0.95, "d_low": 2e-6, "d_high": 1e-3, "d_low_open": False, "d_high_open": True,
        "refused": {"d_low": None, "d_high": None}, "signal_at_d_low": None,
        "signal_at_d_high": None, "n_eff": {"d_low": 500, "d_high": 80},
    }
    text = cli._format_limit(summary)
    assert "from 2e-06 GeV^-1 to 0.001 GeV^-1 (the highest scanned coupling" in text
    assert "--d-range" in text
    assert "--d-range" not in cli._format_limit({**summary, "d_high_open": False})
