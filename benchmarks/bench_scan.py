"""Benchmark: a mass scan with t2khnl against the straightforward SIREN + DarkNews path.

One run measures and prints

(a) the paper's method on a reduced problem: at each mass (one coupling d per mass), the
    DarkNews table fill as SIREN's DarkNews wrapper does it, timed on a subset of nuclei
    (``--dn-nuclei``, coherent and p-el) with ``bench_generation``'s functions. SIREN keys
    these tables by mass *and* coupling, so every (m, d) point of a grid needs its own
    fill: the measured mean time per (nucleus, channel) case is scaled to every case of
    the ND280 nuclei (one (m, d) point), then to ``--d-points`` couplings per mass and to
    the 48-mass plane. These figures are labelled "extrapolated". They count the table
    fills only, not the generation or the limit: a lower bound on that path's cost;
(b) t2khnl's way for the same masses: ``t2khnl.scan.scan`` (both beams, selection, limits
    over the whole d grid per mass, by reweighting) with a fresh cache, timed, with the
    relative MC error on d_low it reached (from ``contour.json``), so that (a) / (b) is
    quoted at a stated precision;
(c) with ``--full-scan``: the 48-mass scans of ND280 and the upgrade, cold cache (a fresh
    ``T2KHNL_CACHE_DIR``) then warm (same cache, new output folder);
(d) peak resident memory (``ru_maxrss``) of this process and of its worker processes.

Network connections are refused for the whole run, in the worker processes too.

Usage::

    python benchmarks/bench_scan.py [--masses 0.1,0.47] [--events 5000] [--precision 0.03] \
        [--workers 1] [--dn-nuclei C12] [--d-points 10] [--full-scan] [--output FILE] \
        [--report FILE]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation import (
    _darknews_fill,
    _extrapolate,
    _forbid_network,
    _maxrss_mb,
    _timed,
)

#: Masses of the full scan (c) and of the plane the ratios are extrapolated to.
FULL_MASSES = "0.01:2.0:48log"
#: Detectors of the full scan (c).
FULL_DETECTORS = ("nd280", "upgrade")
#: Fields of the contour records kept per mass.
_RECORD_KEYS = (
    "mass_gev",
    "status",
    "n_events",
    "d_low",
    "d_high",
    "d_low_err",
    "d_high_err",
    "refused",
)
#: Per-call timings of the limit step, written by :func:`_offline_limit_run`.
_TIMES_FILE = "bench_times.jsonl"


def _offline_limit_run(detector: str, mass_gev: float, **kwargs: Any) -> dict[str, Any]:
    """``t2khnl.limit.run`` with the network refused (worker processes included), its wall
    and CPU time appended to ``<scan>/bench_times.jsonl``."""
    from t2khnl import limit

    _forbid_network()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    summary = limit.run(detector, mass_gev, **kwargs)
    record = {
        "mass_gev": mass_gev,
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
    }
    with open(Path(kwargs["output_dir"]).parents[1] / _TIMES_FILE, "a") as file:
        file.write(json.dumps(record) + "\n")
    return summary


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_scan(detector: str, masses: str, out: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One ``t2khnl.scan.scan``: wall and CPU time (this process + workers), per-mass results."""
    from t2khnl import scan
    from t2khnl.masses import mass_label

    children0 = _children_cpu_s()
    records, timer = _timed(
        scan.scan,
        detector,
        masses,
        output_dir=out,
        n_events=args.events,
        precision=args.precision or None,
        workers=args.workers,
        runner=_offline_limit_run,
        progress=False,
    )
    cpu = timer.cpu_s + _children_cpu_s() - children0
    times: dict[float, dict[str, float]] = {}
    for line in (out / _TIMES_FILE).read_text().splitlines():
        row = json.loads(line)  # one line per limit step: a rerun mass has several
        total = times.setdefault(row["mass_gev"], {"wall_s": 0.0, "cpu_s": 0.0})
        total["wall_s"] += row["wall_s"]
        total["cpu_s"] += row["cpu_s"]
    per_mass = []
    for rec in records:
        per = json.loads((out / "masses" / f"{mass_label(rec['mass_gev'])}.json").read_text())
        rel = {
            f"{edge}_rel_err": (rec[f"{edge}_err"] / rec[edge] if rec.get(f"{edge}_err") else None)
            for edge in ("d_low", "d_high")
        }
        call = times.get(rec["mass_gev"], {})
        per_mass.append(
            {
                **{k: rec.get(k) for k in _RECORD_KEYS},
                **rel,
                "elapsed_s": per.get("elapsed_s"),
                "limit_wall_s": call.get("wall_s"),
                "limit_cpu_s": call.get("cpu_s"),
            }
        )
    return {"detector": detector, "wall_s": timer.wall_s, "cpu_s": cpu, "per_mass": per_mass}


def bench_ours(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    print(
        f"(b) t2khnl scan, nd280, masses {args.masses}, {args.events} events per beam first, "
        f"precision {args.precision or 'off'}, {args.workers} worker(s)",
        flush=True,
    )
    out = _run_scan("nd280", args.masses, work / "scan_b", args)
    for row in out["per_mass"]:
        print(
            f"  m = {row['mass_gev']:g} GeV: {row['elapsed_s']:.1f} s, d_low {row['d_low']}, "
            f"relative MC error {row['d_low_rel_err']}",
            flush=True,
        )
    out["maxrss_mb"] = round(_maxrss_mb(), 1)
    return out


def bench_darknews(args: argparse.Namespace, masses: list[float], work: Path) -> dict[str, Any]:
    from t2khnl import xsec
    from t2khnl.flux import load_beam_flux
    from t2khnl.generate import _targets
    from t2khnl.geometry import load as load_geometry

    names = [xsec.nucleus_name(p) for p in _targets(load_geometry("nd280", "corrected"))]
    dn_names = [n for n in args.dn_nuclei.split(",") if n]
    unknown = sorted(set(dn_names) - set(names))
    if unknown:
        msg = f"--dn-nuclei {unknown} are not ND280 nuclei ({names})"
        raise SystemExit(msg)
    # SIREN's wrapper fills up to (1 + interp_tolerance) x the top of the flux.
    emax = 1.05 * float(load_beam_flux("fhc").energy_centers_gev[-1])
    out: dict[str, Any] = {"emax_gev": emax, "nuclei_timed": dn_names, "n_nuclei": len(names)}
    points = []
    for mass in masses:
        print(
            f"(a) DarkNews fill (SIREN wrapper), m = {mass:g} GeV, d = {args.d:g} /GeV", flush=True
        )
        rows, _ = _darknews_fill(dn_names, mass, args.d, emax, work / f"darknews_m{mass:g}")
        point = _extrapolate(rows, names, mass, args.d, xsec.CHANNELS)
        points.append(
            {
                "mass_gev": mass,
                "d_gev_inv": args.d,
                "cases": rows,
                "point_all_nuclei": point,
                "label": f"extrapolated from {', '.join(dn_names)} to {len(names)} nuclei",
            }
        )
        print(f"  one (m, d) point, all nuclei: {point['wall_s'] / 60:.1f} min", flush=True)
    out["per_mass"] = points
    out["maxrss_mb"] = round(_maxrss_mb(), 1)
    return out


def bench_full_scan(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"masses": FULL_MASSES}
    os.environ["T2KHNL_CACHE_DIR"] = str(work / "cache_full")
    for detector in FULL_DETECTORS:
        for phase in ("cold", "warm"):
            print(f"(c) full scan, {detector}, {phase} cache", flush=True)
            res = _run_scan(detector, FULL_MASSES, work / f"full_{detector}_{phase}", args)
            out[f"{detector}_{phase}"] = res
            print(
                f"  {res['wall_s'] / 60:.1f} min wall, {res['cpu_s'] / 60:.1f} min CPU", flush=True
            )
    return out


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """(a) / (b) per mass (a whole d row against our whole mass) and over the plane."""
    import numpy as np

    n_d = results["settings"]["d_points"]
    points = results["darknews"]["per_mass"]
    ours = {row["mass_gev"]: row for row in results["ours"]["per_mass"] if row["status"] == "done"}
    per_mass = []
    for point in points:
        row, dn = ours.get(point["mass_gev"]), point["point_all_nuclei"]
        if row is None:
            continue
        per_mass.append(
            {
                "mass_gev": point["mass_gev"],
                "a_point_wall_s": dn["wall_s"],
                "a_row_wall_s": n_d * dn["wall_s"],
                "a_row_cpu_s": n_d * dn["cpu_s"],
                "b_wall_s": row["elapsed_s"],
                "b_cpu_s": row["limit_cpu_s"],
                "wall": n_d * dn["wall_s"] / row["elapsed_s"],
                "cpu": n_d * dn["cpu_s"] / row["limit_cpu_s"],
            }
        )
    n_masses = len(results["settings"]["full_masses"])
    a_wall, a_cpu = (
        n_masses * n_d * float(np.mean([p["point_all_nuclei"][key] for p in points]))
        for key in ("wall_s", "cpu_s")
    )
    full = results.get("full_scan", {}).get("nd280_cold")
    if full is not None:
        b_wall, b_cpu = full["wall_s"], full["cpu_s"]
        b_label = (
            f"measured: {n_masses}-mass ND280 scan, cold cache, "
            f"{results['settings']['workers']} worker(s)"
        )
    else:
        b_wall, b_cpu = (
            n_masses * float(np.mean([r[key] for r in per_mass])) for key in ("b_wall_s", "b_cpu_s")
        )
        b_label = f"extrapolated: {n_masses} x the mean per-mass time of (b)"
    plane = {
        "n_masses": n_masses,
        "d_points": n_d,
        "a_wall_s": a_wall,
        "a_cpu_s": a_cpu,
        "a_label": f"extrapolated: {n_masses} masses x {n_d} couplings x the mean (m, d) "
        "point of (a)",
        "b_wall_s": b_wall,
        "b_cpu_s": b_cpu,
        "b_label": b_label,
        "wall": a_wall / b_wall,
        "cpu": a_cpu / b_cpu,
    }
    return {"per_mass": per_mass, "plane": plane}


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _precision(row: dict[str, Any]) -> str:
    """Relative MC error on d_low, or why there is none."""
    if row["d_low_rel_err"] is not None:
        return f"{row['d_low_rel_err']:.2%}"
    why = (row["refused"] or {}).get("d_low")
    return f"edge not quoted: {why.split(' effective')[0]}" if why else "no edge"


def _loads(loadavg: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in loadavg)


def _duration(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def markdown(results: dict[str, Any]) -> str:
    s, ours, dn, rat = results["settings"], results["ours"], results["darknews"], results["ratios"]
    n_d = s["d_points"]
    by_mass = {row["mass_gev"]: row for row in ours["per_mass"]}
    lines = [
        f"(a) DarkNews fill through SIREN's wrapper, timed on {', '.join(dn['nuclei_timed'])}, "
        f"extrapolated to the {dn['n_nuclei']} ND280 nuclei (coherent + p-el); "
        f"(b) `t2khnl.scan.scan`, ND280, {s['events']} events per beam at the first attempt, "
        f"precision target {s.get('precision') or 'off'}, {s['workers']} worker(s).",
        "",
        f"| m_N [GeV] | (a) one (m, d) point, extrapolated | (a) x {n_d} couplings, extrapolated "
        "| (b) t2khnl, whole mass (all d), measured | (a)/(b) wall | (a)/(b) CPU "
        "| (b) dd_low/d_low (MC) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rat["per_mass"]:
        b = by_mass[r["mass_gev"]]
        lines.append(
            f"| {r['mass_gev']:g} | {_duration(r['a_point_wall_s'])} "
            f"| {_duration(r['a_row_wall_s'])} "
            f"| {_duration(r['b_wall_s'])} | {r['wall']:.0f}x | {r['cpu']:.0f}x "
            f"| {_precision(b)} |"
        )
    p = rat["plane"]
    lines.append(
        f"| plane: {p['n_masses']} masses x {n_d} couplings | - | {_duration(p['a_wall_s'])} "
        f"| {_duration(p['b_wall_s'])} | {p['wall']:.0f}x | {p['cpu']:.0f}x | - |"
    )
    lines += ["", f"Plane: (a) {p['a_label']}; (b) {p['b_label']}.", ""]
    lines += ["| what | value | note |", "|---|---|---|"]
    for point in dn["per_mass"]:
        for case in point["cases"]:
            lines.append(
                f"| DarkNews fill m = {point['mass_gev']:g} GeV, "
                f"{case['nucleus']} {case['channel']} "
                f"| {case['wall_s']:.1f} s | measured; CPU {case['cpu_s']:.1f} s; one helicity, to "
                f"{dn['emax_gev']:.3g} GeV |"
            )
    lines.append(
        f"| (b) scan total | {_duration(ours['wall_s'])} "
        f"| measured; CPU {_duration(ours['cpu_s'])} "
        "(this process + workers), imports and cold cache included |"
    )
    for row in ours["per_mass"]:
        lines.append(
            f"| (b) m = {row['mass_gev']:g} GeV | {_fmt(row['elapsed_s'], '.1f')} s "
            f"| d_low {_fmt(row['d_low'], '.4g')} +- {_fmt(row['d_low_err'], '.2g')} /GeV, "
            f"d_high {_fmt(row['d_high'], '.4g')}; {row['n_events']} events per beam"
            + "".join(f"; {e} refused: {why}" for e, why in (row["refused"] or {}).items() if why)
            + " |"
        )
    for key, res in results.get("full_scan", {}).items():
        if key == "masses":
            continue
        done = sum(r["status"] == "done" for r in res["per_mass"])
        lines.append(
            f"| (c) full scan {key.replace('_', ', ')} cache | {_duration(res['wall_s'])} "
            f"| measured; CPU {_duration(res['cpu_s'])}; {done} masses done |"
        )
    mem = results["memory"]
    lines.append(
        f"| (d) peak memory | {mem['self_mb']:.0f} MB | ru_maxrss, this process "
        f"(after (b): {ours['maxrss_mb']:.0f} MB) |"
    )
    lines.append(
        f"| (d) peak memory, workers | {mem['children_mb']:.0f} MB | ru_maxrss, largest child |"
    )
    m = results["machine"]
    lines += [
        "",
        f"Load average (1, 5, 15 min): start {_loads(m['loadavg_start'])}, end "
        f"{_loads(m['loadavg_end'])} on {m['cpus']} CPUs; "
        f"run {_duration(results['run_wall_s'])}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--masses", default="0.1,0.47", help="masses [GeV] of (a) and (b) (0.1,0.47)"
    )
    parser.add_argument("--events", type=int, default=5000,
                        help="events per beam at a mass's first attempt (5000)")
    parser.add_argument("--precision", type=float, default=0.03,
                        help="target MC error on the edges, as t2khnl scan (0.03; 0: one attempt)")
    parser.add_argument("--workers", type=int, default=1, help="scan worker processes (1)")
    parser.add_argument("--d", type=float, default=1.25e-6, help="coupling d [1/GeV] of (a)")
    parser.add_argument("--dn-nuclei", default="C12", help="nuclei DarkNews is timed on (C12)")
    parser.add_argument(
        "--d-points", type=int, default=10, help="couplings per mass in (a): the paper's 10x10 grid"
    )
    parser.add_argument("--full-scan", action="store_true", help="(c): 48 masses, both detectors")
    parser.add_argument("--report", type=Path, default=None, help="only print an earlier JSON")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(__file__).resolve().parent / "results_scan.json",
        help="JSON results (default benchmarks/results_scan.json)",
    )
    args = parser.parse_args(argv)
    if args.report is not None:
        print(markdown(json.loads(args.report.read_text())))
        return 0
    # One thread per process (set before numpy is imported): the rates are per core.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    _forbid_network()
    logging.basicConfig(level=logging.WARNING)
    load_start, start = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_scan_") as tmp:
        work = Path(tmp)
        os.environ["T2KHNL_CACHE_DIR"] = str(work / "cache")  # cold: geometry and tables
        from t2khnl._siren import load as load_siren

        siren = load_siren()
        import DarkNews

        # DarkNews (which sets its level on import) warns about every approximated form factor.
        logging.getLogger("logger.DarkNews").setLevel(logging.ERROR)
        from t2khnl.masses import parse_masses

        masses = parse_masses(args.masses)
        ours = bench_ours(args, work)
        darknews = bench_darknews(args, masses, work)
        full = bench_full_scan(args, work) if args.full_scan else None
    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "masses": masses,
            "events": args.events,
            "precision": args.precision or None,
            "workers": args.workers,
            "d_gev_inv": args.d,
            "d_points": args.d_points,
            "dn_nuclei": args.dn_nuclei,
            "full_scan": args.full_scan,
            "full_masses": parse_masses(FULL_MASSES),
            "preset": "corrected",
        },
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "siren": getattr(siren, "__version__", "0.1.0"),
            "darknews": DarkNews.__version__,
        },
        "ours": ours,
        "darknews": darknews,
        "memory": {
            "self_mb": round(_maxrss_mb(), 1),
            "children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        },
        "run_wall_s": time.perf_counter() - start,
    }
    if full is not None:
        results["full_scan"] = full
    results["ratios"] = ratios(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print()
    print(markdown(results))
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
