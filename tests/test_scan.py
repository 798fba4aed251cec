"""Mass scans: mass specs, resume, configuration binding, determinism, executors.

The plumbing tests use ``_fake_limit.run`` (synthetic ntuples, no SIREN, milliseconds per
mass); one end-to-end ``t2khnl scan`` runs the real analysis on two masses.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import _fake_limit
import numpy as np
import pyhf
import pytest
from click.testing import CliRunner

from t2khnl import allocation, couplings, limit, precision, scan
from t2khnl.cli import main
from t2khnl.errors import InputError, ScanError
from t2khnl.executors import check_single_threaded
from t2khnl.masses import mass_label, parse_masses
from t2khnl.scanstore import open_edges
from t2khnl.seeds import mass_seeds

TESTS = Path(__file__).resolve().parent
MASSES = "0.1,0.3,0.5,0.7"


def _fake_scan(out: Path, masses: str = MASSES, **kwargs) -> list[dict]:
    kwargs.setdefault("n_events", 300)
    kwargs.setdefault("precision", None)
    return scan.scan("nd280", masses, output_dir=out, runner=_fake_limit.run, progress=False,
                     **kwargs)


def _calls(out: Path) -> list[float]:
    path = out / "calls.txt"
    return [float(x) for x in path.read_text().split()] if path.exists() else []


def test_mass_specs_and_bad_ranges():
    log_masses = parse_masses("0.01:2.0:48log")
    assert len(log_masses) == 48 and log_masses[0] == 0.01 and log_masses[-1] == 2.0
    ratios = [b / a for a, b in itertools.pairwise(log_masses)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-4)
    assert parse_masses("0.1:0.4:4lin") == [0.1, 0.2, 0.3, 0.4]
    assert parse_masses("0.5, 0.1,0.3") == [0.1, 0.3, 0.5]
    assert parse_masses("0.3:0.3:1log") == [0.3]
    labels = [mass_label(m) for m in log_masses]
    assert labels == sorted(labels) and len(set(labels)) == 48
    assert mass_label(0.47) == "m000.470000"
    for bad in ("2.0:0.01:48log", "0.1:0.5:0log", "0.3:0.3:2lin", "", ",", "0.1:0.5",
                "a,b", "0:1:3log", "-0.1,0.2", "0.1:0.5:3cubic", "0.1,0.1", "nan,0.1"):
        with pytest.raises(InputError):
            parse_masses(bad)
    result = CliRunner().invoke(main, ["scan", "--masses", "2:1:3log", "--output", "x"])
    assert result.exit_code == 2 and "reversed" in result.output
    # Per-mass seeds: deterministic, distinct across masses and scan seeds.
    seeds = mass_seeds(1, 500)
    assert len(set(seeds)) == 500 and seeds == mass_seeds(1, 500)
    assert seeds[:48] == mass_seeds(1, 48) and seeds[:48] != mass_seeds(2, 48)
    # The generator seeds SIREN with (seed * 100 + 99) * 100 + 99, a 32-bit unsigned int.
    assert all(0 <= (s * 100 + 99) * 100 + 99 < 2**32 for s in seeds)


def _scan_in_a_process(out: Path, until: Path) -> subprocess.Popen:
    """A fake scan of MASSES (1.5 s a mass) into ``out`` in another process, returned once
    ``until`` exists (stderr piped). Ctrl-C (SIGINT) raises KeyboardInterrupt in it, as in
    a terminal, even when this process was started with SIGINT ignored (a background job)."""
    code = (f"import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            f"import _fake_limit\nfrom t2khnl import scan\n"
            f"scan.scan('nd280', {MASSES!r}, output_dir={str(out)!r}, n_events=300, "
            f"precision=None, runner=_fake_limit.run, progress=False)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get(
        "PYTHONPATH", "")]), "FAKE_LIMIT_SLEEP": "1.5"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=out.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not until.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the scan never reached {until}")
        time.sleep(0.05)
    return proc


def test_resume_after_kill(tmp_path):
    out = tmp_path / "scan"
    proc = _scan_in_a_process(out, out / "masses" / "m000.100000.json")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = sorted(p.name for p in (out / "masses").glob("m*.json"))
    assert "m000.100000.json" in done and len(done) < 4
    mtimes = {name: (out / "masses" / name).stat().st_mtime_ns for name in done}
    calls_before = _calls(out)
    records = _fake_scan(out)
    assert [r["mass_gev"] for r in records] == [0.1, 0.3, 0.5, 0.7]
    assert all(r["status"] == "done" and r["d_low"] for r in records)
    # Finished masses were neither recomputed nor rewritten.
    assert {name: (out / "masses" / name).stat().st_mtime_ns for name in done} == mtimes
    recomputed = _calls(out)[len(calls_before):]
    assert 0.1 not in recomputed and sorted(recomputed) == sorted(
        m for m in (0.1, 0.3, 0.5, 0.7) if f"{mass_label(m)}.json" not in done)
    rows = list(csv.DictReader((out / "contour.csv").open()))
    assert [float(r["mass_gev"]) for r in rows] == [0.1, 0.3, 0.5, 0.7]
    # A complete scan reruns nothing.
    _fake_scan(out)
    assert len(_calls(out)) == len(calls_before) + len(recomputed)


def test_other_configuration_needs_force(tmp_path):
    out = tmp_path / "scan"
    _fake_scan(out, "0.1,0.3")
    before = (out / "contour.csv").read_text()
    with pytest.raises(InputError, match=r"another configuration .*n_events.*--force"):
        _fake_scan(out, "0.1,0.3", n_events=600)
    result = CliRunner().invoke(main, ["scan", "--masses", "0.1,0.3", "--events", "300",
                                       "--precision", "0", "--seed", "2", "--output", str(out)])
    assert result.exit_code == 2 and "use --force" in result.output
    assert (out / "contour.csv").read_text() == before
    assert json.loads((out / "scan.json").read_text())["n_events"] == 300
    records = _fake_scan(out, "0.1,0.3", n_events=600, force=True)
    assert [r["n_events"] for r in records] == [600, 600]
    assert json.loads((out / "scan.json").read_text())["n_events"] == 600
    assert (out / "contour.csv").read_text() != before


def test_identical_contours_serial_and_process_pool(tmp_path):
    _fake_scan(tmp_path / "a", MASSES + ",30")
    _fake_scan(tmp_path / "b", MASSES + ",30", workers=2)
    for name in ("contour.csv", "contour.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    text = (tmp_path / "a" / "contour.csv").read_text().splitlines()
    assert text[0] == "mass_gev,d_low,d_high,d_low_err,d_high_err" and len(text) == 5
    rows = list(csv.DictReader(text))
    for row in rows:
        d_low, d_high = float(row["d_low"]), float(row["d_high"])
        assert 0 < d_low < d_high
        assert 0 < float(row["d_low_err"]) < 0.2 * d_low
        assert 0 < float(row["d_high_err"]) < 0.2 * d_high
    # The skipped mass is recorded with its reason, in its own file and the contour.
    skipped = json.loads((tmp_path / "a" / "masses" / "m030.000000.json").read_text())
    assert skipped["status"] == "skipped" and "too heavy" in skipped["reason"]
    contour = json.loads((tmp_path / "a" / "contour.json").read_text())
    assert contour["metadata"]["n_skipped"] == 1
    assert contour["records"][-1]["reason"] == skipped["reason"]
    # Another scan seed gives other events, hence other edges.
    _fake_scan(tmp_path / "c", MASSES + ",30", seed=2)
    assert (tmp_path / "c" / "contour.csv").read_bytes() != (
        tmp_path / "a" / "contour.csv").read_bytes()


def test_dask_local_cluster_matches_serial(tmp_path):
    distributed = pytest.importorskip("distributed")
    _fake_scan(tmp_path / "serial")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        client.upload_file(str(TESTS / "_fake_limit.py"))
        _fake_scan(tmp_path / "dask", scheduler=cluster.scheduler_address)
    for name in ("contour.csv", "contour.json"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes()


def test_unreachable_scheduler_fails_within_30_s(tmp_path):
    start = time.monotonic()
    result = CliRunner().invoke(main, ["scan", "--masses", "0.1", "--scheduler",
                                       "tcp://127.0.0.1:1", "--output", str(tmp_path / "s")])
    assert time.monotonic() - start < 30
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.output


def test_ctrl_c_mid_mass_then_resume(tmp_path):
    """Ctrl-C while a mass runs leaves masses/m<mass>/ holding an empty run.log and no
    m<mass>.json (nor any half-written file); rerunning the command redoes that mass."""
    out = tmp_path / "scan"
    second = out / "masses" / "m000.300000"
    proc = _scan_in_a_process(out, second / "run.log")  # the second mass has begun
    try:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode != 0 and b"KeyboardInterrupt" in stderr
    assert (second / "run.log").read_text() == ""
    assert not (out / "masses" / "m000.300000.json").exists()
    assert (out / "masses" / "m000.100000.json").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary files
    records = _fake_scan(out)
    assert [(r["mass_gev"], r["status"]) for r in records] == [
        (m, "done") for m in (0.1, 0.3, 0.5, 0.7)]
    assert (second / "summary.json").exists()
    assert _calls(out).count(0.3) == 2 and _calls(out).count(0.1) == 1


def test_outputs_honour_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        _fake_scan(tmp_path / "scan", "0.1,0.3")
    finally:
        os.umask(previous)
    paths = list((tmp_path / "scan").rglob("*"))
    assert {p.name for p in paths} >= {"scan.json", "contour.csv", "contour.json",
                                       "m000.100000.json", "selected_fhc.root"}
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o750 if path.is_dir() else 0o640), (path, oct(mode))


def test_d_range_and_open_edges_reported_once(tmp_path):
    """--d-range reaches the per-mass analysis and binds the folder; masses excluded at
    the top of the grid are summed up in one line of the scan's output and log."""
    records = _fake_scan(tmp_path / "narrow", "0.1,0.3,0.5,0.7", d_range=(1e-8, 1e-6))
    # 0.1 GeV is excluded only above 2.4e-6 GeV^-1 (outside); the others up to the top
    assert [(r["d_low"] is None, r["d_high_open"]) for r in records] == [
        (True, False), (False, True), (False, True), (False, True)]
    assert all(r["d_high"] == 1e-6 for r in records[1:])
    config = json.loads((tmp_path / "narrow" / "scan.json").read_text())
    assert config["d_range_gev_inv"] == [1e-8, 1e-6]
    edges = open_edges(records)
    assert edges.high == [0.3, 0.5, 0.7] and edges.low == []
    (line,) = edges.lines((1e-8, 1e-6))
    assert line.startswith("3 mass(es) (0.3-0.7 GeV) are excluded at the highest scanned "
                           "coupling, 1e-06 GeV^-1") and "--d-range" in line
    log_text = (tmp_path / "narrow" / "scan.log").read_text()
    assert log_text.count("are excluded at the highest scanned coupling") == 1
    # the default grid leaves no edge open here; another range is another configuration
    assert open_edges(_fake_scan(tmp_path / "default", "0.1,0.3,0.5")).lines() == []
    with pytest.raises(InputError, match="d_range_gev_inv"):
        _fake_scan(tmp_path / "narrow", "0.1,0.3,0.5,0.7", d_range=(1e-8, 1e-5))


def test_coupling_grid_and_its_range():
    np.testing.assert_array_equal(couplings.d_grid(), np.geomspace(1e-8, 1e-3, 81))
    wide = couplings.d_grid((1e-8, 1e-2))
    assert len(wide) == 97 and wide[0] == 1e-8 and wide[-1] == pytest.approx(1e-2, rel=1e-12)
    assert np.log10(wide[1] / wide[0]) == pytest.approx(1 / couplings.D_POINTS_PER_DECADE)
    assert couplings.parse_d_range("1e-8:1e-2") == (1e-8, 1e-2)
    for bad in ("1e-2:1e-8", "0:1e-3", "a:b", "1e-8", "1e-8:1e-5:1e-3", "nan:1", "-1:1",
                "1e-3:1e-3"):
        with pytest.raises(InputError):
            couplings.parse_d_range(bad)


def test_several_threads_per_worker_are_refused(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=2,
                                  dashboard_address=None) as cluster, \
            pytest.raises(InputError, match=r"2 threads.*--nthreads 1"):
        _fake_scan(tmp_path / "s", scheduler=cluster.scheduler_address)
    assert not (tmp_path / "s").exists()  # refused before the folder is made
    with pytest.raises(InputError, match="2 threads"):
        check_single_threaded({"tcp://a:1": 1, "tcp://b:2": 2})


@pytest.fixture(scope="module")
def real_scan(tmp_path_factory):
    """``t2khnl scan`` of the real analysis on 0.3 and 0.5 GeV (two local workers) plus a
    mass beyond the flux: its folder and command-line arguments."""
    out = tmp_path_factory.mktemp("real") / "scan"
    args = ["scan", "--detector", "nd280", "--masses", "0.3,0.5,30", "--events", "300",
            "--precision", "0", "--workers", "2", "--output", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return out, args, result


def test_scan_end_to_end(real_scan):
    """The real analysis on 0.3 and 0.5 GeV (two workers) plus a mass beyond the flux."""
    out, args, result = real_scan
    assert "2 masses analysed, 1 skipped" in result.output
    rows = list(csv.DictReader((out / "contour.csv").open()))
    assert [float(r["mass_gev"]) for r in rows] == [0.3, 0.5]
    contour = json.loads((out / "contour.json").read_text())
    skipped = contour["records"][-1]
    assert skipped["mass_gev"] == 30.0 and "too heavy" in skipped["reason"]
    for row, rec in zip(rows, contour["records"], strict=False):
        summary = json.loads((out / "masses" / mass_label(rec["mass_gev"])
                              / "summary.json").read_text())
        assert row["d_low"] == ("" if summary["d_low"] is None else repr(summary["d_low"]))
        assert (row["d_low_err"] == "") == (summary["d_low"] is None)
        assert rec["refused"] == summary["refused"]
        # every excluded interval, in increasing d, spanned by the unrefused edges
        assert rec["intervals"] == summary["intervals"]
        flat = [d for interval in summary["intervals"] for d in interval]
        assert flat == sorted(flat)
        if summary["edges"]["d_low"] is not None:
            assert flat[0] == summary["edges"]["d_low"] and flat[-1] == summary["edges"]["d_high"]
        # The MC error formula on the real ntuples (at 300 events the edges are refused).
        probe = dataclasses.replace(
            limit.read(out / "masses" / mass_label(rec["mass_gev"]), "corrected"),
            summary={**summary, "d_low": 3e-5, "d_high": None})
        errors = precision.edge_errors(probe)
        assert 0 < errors["d_low_err"] < 3e-5 and errors["d_high_err"] is None
    assert (out / "scan.log").read_text().count("scan finished") == 1
    # the whole grid's likelihood: one patch per (mass, d), all applying to one workspace
    bkg_only = json.loads((out / "bkgonly_nd280.json").read_text())
    patchset = pyhf.patchset.PatchSet(json.loads((out / "patchset_nd280.json").read_text()))
    patchset.verify(bkg_only)
    assert len(patchset.patches) == 2 * len(couplings.D_GRID_GEV_INV)
    assert {p.values[0] for p in patchset.patches} == {0.3, 0.5}
    before = {p.name: p.stat().st_mtime_ns
              for p in [*(out / "masses").glob("m*.json"), out / "patchset_nd280.json"]}
    start = time.monotonic()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and time.monotonic() - start < 5
    assert {p.name: p.stat().st_mtime_ns
            for p in [*(out / "masses").glob("m*.json"), out / "patchset_nd280.json"]} == before


def _recording_runner(detector, mass_gev, *, n_events, output_dir, preset, **kwargs):
    """``_fake_limit.run`` that appends (mass, events, worst relative edge error) to
    ``<scan>/attempts.jsonl``: the error is computed as run_mass does, from the ntuples."""
    outcome = _fake_limit.run(
        detector, mass_gev, n_events=n_events, output_dir=output_dir, preset=preset, **kwargs
    )
    summary = outcome.summary
    errors = precision.edge_errors(outcome)
    worst = max(
        errors[f"{e}_err"] / summary[e]
        for e in ("d_low", "d_high")
        if errors[f"{e}_err"] is not None
    )
    with open(Path(output_dir).parents[1] / "attempts.jsonl", "a") as file:
        file.write(json.dumps({"mass_gev": mass_gev, "n_events": n_events, "worst": worst}) + "\n")
    return outcome


def _precision_scan(out: Path, masses: str, precision: float) -> dict[float, list[dict]]:
    """Scan with --precision and the recording runner; the attempts, by mass."""
    scan.scan(
        "nd280",
        masses,
        output_dir=out,
        n_events=50,
        precision=precision,
        runner=_recording_runner,
        progress=False,
    )
    attempts: dict[float, list[dict]] = {}
    for line in (out / "attempts.jsonl").read_text().splitlines():
        row = json.loads(line)
        attempts.setdefault(row["mass_gev"], []).append(row)
    return attempts


def _recorded_events(out: Path, mass_gev: float) -> tuple[dict, dict]:
    """The per-mass json and the contour.json record of a mass."""
    per_mass = json.loads((out / "masses" / f"{mass_label(mass_gev)}.json").read_text())
    contour = json.loads((out / "contour.json").read_text())
    record = next(r for r in contour["records"] if r["mass_gev"] == mass_gev)
    return per_mass, record


def test_precision_raises_events_until_met(tmp_path):
    out, precision = tmp_path / "scan", 0.03
    attempts = _precision_scan(out, "0.1,0.3", precision)
    assert json.loads((out / "scan.json").read_text())["precision"] == precision
    for mass, rows in attempts.items():
        events = [row["n_events"] for row in rows]
        assert events[0] == 50 and len(events) >= 2
        assert all(row["worst"] > precision for row in rows[:-1])
        assert rows[-1]["worst"] <= precision
        # the stand-in's events carry no strata: each attempt asks for what the last one's
        # error calls for (MC error ~ 1/sqrt(N))
        for last, following in itertools.pairwise(rows):
            need = allocation.EVENTS_MARGIN * (last["worst"] / precision) ** 2
            assert following["n_events"] == min(50 * scan.MAX_EVENTS_FACTOR, math.ceil(
                last["n_events"] * max(allocation.MIN_EVENTS_GROWTH, need)))
        per_mass, record = _recorded_events(out, mass)
        assert per_mass["n_events"] == record["n_events"] == events[-1]
        for edge in ("d_low", "d_high"):
            assert 0 < per_mass[f"{edge}_err"] <= precision * per_mass[edge]


def test_precision_stops_at_the_events_cap(tmp_path):
    out, precision = tmp_path / "scan", 1e-3
    rows = _precision_scan(out, "0.1", precision)[0.1]
    cap = 50 * scan.MAX_EVENTS_FACTOR
    assert rows[-1]["n_events"] == cap
    assert all(a["n_events"] < b["n_events"] for a, b in itertools.pairwise(rows))
    assert all(row["worst"] > precision for row in rows)  # never met, yet it stopped
    per_mass, record = _recorded_events(out, 0.1)
    assert per_mass["n_events"] == record["n_events"] == cap
    assert per_mass["d_low_err"] > precision * per_mass["d_low"]  # the error it reached


def test_refused_edges_call_for_effective_events():
    summary = {"d_low": 1e-6, "d_high": None, "n_eff": {"d_low": 10.0, "d_high": None},
               "refused": {"d_low": "n_eff = 10 < 50", "d_high": None}}
    errors = {"d_low_err": None, "d_high_err": None}
    assert precision.variance_needs(summary, errors, 0.03) == {"d_low": pytest.approx(5.0)}
    assert precision.variance_needs(summary, errors, None) == {}
    met = {**summary, "refused": {"d_low": None, "d_high": None}}
    assert precision.variance_needs(met, {"d_low_err": 2e-8, "d_high_err": None}, 0.03) == {}
    # an error twice the target needs a variance 4x smaller
    short = precision.variance_needs(met, {"d_low_err": 6e-8, "d_high_err": None}, 0.03)
    assert short == {"d_low": pytest.approx(4.0)}
    # the grid end (an open edge) refused for n_eff is not chased: more events do not move it
    grid_end = {**met, "d_high_open": True, "n_eff": {"d_low": 1e4, "d_high": 48.6},
                "refused": {"d_low": None, "d_high": "n_eff = 48.6 < 50"}}
    assert precision.variance_needs(grid_end, {"d_low_err": 2e-8, "d_high_err": None}, 0.03) == {}


def test_precision_default_and_one_attempt(tmp_path, monkeypatch):
    records = scan.scan(
        "nd280",
        "0.1",
        output_dir=tmp_path / "one",
        n_events=50,
        precision=None,
        runner=_recording_runner,
        progress=False,
    )
    attempts = (tmp_path / "one" / "attempts.jsonl").read_text().splitlines()
    assert [json.loads(a)["n_events"] for a in attempts] == [50]
    assert records[0]["n_events"] == 50
    # The CLI targets 0.03 from 5000 events unless told otherwise; 0 means one attempt.
    received = {}
    monkeypatch.setattr(scan, "scan", lambda *args, **kwargs: received.update(kwargs) or [])
    base = ["scan", "--masses", "0.1", "--output", str(tmp_path / "cli")]
    assert CliRunner().invoke(main, base).exit_code == 0
    assert received["precision"] == scan.DEFAULT_PRECISION == 0.03
    assert received["n_events"] == scan.DEFAULT_EVENTS
    assert CliRunner().invoke(main, [*base, "--precision", "0.05"]).exit_code == 0
    assert received["precision"] == 0.05
    assert CliRunner().invoke(main, [*base, "--precision", "0"]).exit_code == 0
    assert received["precision"] is None


def _failing_at_0p3(detector: str, mass_gev: float, **kwargs) -> dict:
    if detector == "upgrade" and mass_gev == 0.3:
        raise RuntimeError("broken on purpose")
    return _fake_limit.run(detector, mass_gev, **kwargs)


def test_scan_many_groups_detectors_and_matches_single_scans(tmp_path, monkeypatch):
    """Both detectors of a preset at one mass run in one group (they share SIREN's
    objects); each folder ends up as its own scan would leave it, with its own log; a mass
    that fails is reported without stopping its group's other masses."""
    groups = []
    real = scan.run_group

    def recording(tasks):
        groups.append(sorted((t.detector, t.mass_gev) for t in tasks))
        return real(tasks)

    monkeypatch.setattr(scan, "run_group", recording)
    jobs = [scan.ScanJob(det, MASSES, tmp_path / "many" / det, n_events=300, precision=None,
                         runner=_fake_limit.run) for det in ("nd280", "upgrade")]
    scan.scan_many(jobs, progress=False)
    assert groups == [[("nd280", m), ("upgrade", m)] for m in (0.1, 0.3, 0.5, 0.7)]
    for det in ("nd280", "upgrade"):
        alone = tmp_path / "alone" / det
        scan.scan(det, MASSES, output_dir=alone, n_events=300, precision=None,
                  runner=_fake_limit.run, progress=False)
        for name in ("contour.csv", "contour.json"):
            assert (alone / name).read_bytes() == (tmp_path / "many" / det / name).read_bytes()
        logged = (tmp_path / "many" / det / "scan.log").read_text()
        assert logged.count("GeV done in") == 4 and f"many/{det}:" in logged
    broken = [scan.ScanJob(det, "0.1,0.3", tmp_path / "broken" / det, n_events=300,
                           precision=None, runner=_failing_at_0p3)
              for det in ("upgrade", "nd280")]
    with pytest.raises(ScanError, match=r"1 mass\(es\) failed \(0.3 GeV"):
        scan.scan_many(broken, progress=False)
    assert len(json.loads((tmp_path / "broken" / "nd280" / "contour.json").read_text())[
        "records"]) == 2
    assert "broken on purpose" in (tmp_path / "broken" / "upgrade" / "scan.log").read_text()
    with pytest.raises(InputError, match="one output folder per job"):
        scan.scan_many([jobs[0], jobs[0]], progress=False)
    # refused before either binds the folder (the second would meet the first's scan.json)
    fresh = tmp_path / "fresh"
    with pytest.raises(InputError, match="one output folder per job"):
        scan.scan_many([dataclasses.replace(job, output_dir=fresh) for job in jobs],
                       progress=False)
    assert not fresh.exists()


def test_scheduler_file_cluster_matches_local_scan(real_scan, tmp_path):
    """A real ``dask scheduler --scheduler-file`` and one ``dask worker --nthreads 1`` on
    localhost: ``t2khnl scan --scheduler-file`` gives the contour of the local scan of the
    same masses and seed, byte for byte."""
    local, args, _ = real_scan
    scheduler_file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    common = ["--no-dashboard"]
    scheduler = subprocess.Popen(
        [*dask, "scheduler", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
         "--port", "0", *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen(
        [*dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1",
         "--nworkers", "1", "--host", "127.0.0.1", "--local-directory", str(tmp_path / "w"),
         *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        distributed = pytest.importorskip("distributed")
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler never wrote its file"
            time.sleep(0.1)
        with distributed.Client(scheduler_file=str(scheduler_file), timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        out = tmp_path / "scan"
        cluster_args = [a for a in args if a not in ("--workers", "2")]
        cluster_args[cluster_args.index("--output") + 1] = str(out)
        result = CliRunner().invoke(main, [*cluster_args, "--scheduler-file",
                                           str(scheduler_file)])
        assert result.exit_code == 0, result.output
        assert "2 masses analysed, 1 skipped" in result.output
    finally:
        for proc in (worker, scheduler):
            proc.terminate()
            proc.wait(timeout=30)
    for name in ("contour.csv", "contour.json"):
        assert (out / name).read_bytes() == (local / name).read_bytes(), name
