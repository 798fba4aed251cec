"""Benchmark: t2khnl's generation path against the straightforward SIREN + DarkNews path.

One run measures and prints

(a) cross-section tables: ``t2khnl.xsec.build_tables`` for every ND280 nucleus at one mass,
    and ``t2khnl.siren_tables.siren_cross_sections`` (SIREN's C++ objects from those tables),
    against
    DarkNews's own table fill as SIREN's DarkNews wrapper does it
    (``siren.SIREN_DarkNews.PyDarkNewsCrossSection.FillInterpolationTables``, one helicity,
    ``noHC=True``, up to the top of the flux). DarkNews is timed on a subset of nuclei by
    default (C12 and O16) and extrapolated to all nuclei; ``--full`` times all of them;
(b) SIREN generation throughput on one process: ``t2khnl.generate.simulate`` end to end
    (setup and injection loop timed separately), and ``t2khnl.injection.inject_upscatters``
    on a fixed segment, for ND280 and the upgrade; against the same injection with DarkNews's
    Python cross sections (per-event Python callbacks) on a reduced problem: only the subset
    nuclei have a cross section (the other nuclei never interact), compared with t2khnl's
    C++ tables for the same reduced problem;
(c) the peak resident memory of the run (``ru_maxrss``), after each phase.

Nothing is downloaded (network connections are refused for the whole run) and DarkNews's
tables go to a temporary folder that is deleted at the end.

Usage::

    python benchmarks/bench_generation.py [--events 5000] [--mass 0.47] [--full] \
        [--output benchmarks/results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

#: DarkNews model of SIREN's dipole-portal example (mu_tr_mu4 is set from d below).
_DN_MODEL = {
    "UD4": 0, "Umu4": 0, "epsilon": 0.0, "gD": 0.0, "decay_product": "photon",
    "noHC": True, "HNLtype": "dirac",
}
#: SIREN_NOTES.md figures for the full straightforward path (quoted, not measured here).
_QUOTED = {
    "nd280": {"generation_events_per_s": 163, "weighting_events_per_s": 150,
              "table_fill_min": 43, "peak_memory_gb": 0.72},
    "upgrade": {"generation_events_per_s": 190, "weighting_events_per_s": 158,
                "table_fill_min": 34, "peak_memory_gb": 0.65},
}
#: Upstream length [m] of the fixed injection segment of (b), in front of the first box.
_SEGMENT_UPSTREAM_M = 2.0
#: Margin [m] added to the largest box circumradius for the disk radius of (b).
_SEGMENT_MARGIN_M = 0.5


def _forbid_network() -> None:
    """Refuse every outgoing connection: the benchmark must run offline."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        msg = "bench_generation.py runs offline: network access attempted"
        raise RuntimeError(msg)

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]


def _maxrss_mb() -> float:
    """Peak resident memory of this process so far [MB] (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class _Timer:
    """Wall-clock and CPU time of a block."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    @contextlib.contextmanager
    def run(self) -> Iterator[_Timer]:
        w0, c0 = time.perf_counter(), time.process_time()
        try:
            yield self
        finally:
            self.wall_s += time.perf_counter() - w0
            self.cpu_s += time.process_time() - c0


def _timed(func: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, _Timer]:
    timer = _Timer()
    with timer.run():
        out = func(*args, **kwargs)
    return out, timer


def _t(timer: _Timer) -> dict[str, float]:
    return {"wall_s": round(timer.wall_s, 4), "cpu_s": round(timer.cpu_s, 4)}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence DarkNews/SIREN prints ("Directory ... created", progress lines)."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


# --------------------------------------------------------------------------------------
# (a) cross-section tables
# --------------------------------------------------------------------------------------


def _dn_container(names: list[str], mass_gev: float, d_gev_inv: float) -> Any:
    from siren.DNModelContainer import ModelContainer

    from t2khnl.xsec import MU_TR_PER_D

    with _quiet():
        return ModelContainer(nuclear_targets=names, m4=mass_gev,
                              mu_tr_mu4=MU_TR_PER_D * d_gev_inv, **_DN_MODEL)


def _darknews_fill(
    names: list[str], mass_gev: float, d_gev_inv: float, emax_gev: float, table_dir: Path,
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], Any]]:
    """Fill DarkNews's tables as SIREN's wrapper does, one (nucleus, channel) at a time."""
    from siren.SIREN_DarkNews import PyDarkNewsCrossSection

    container = _dn_container(names, mass_gev, d_gev_inv)
    rows, objects = [], {}
    for index, ups_case in enumerate(container.ups_cases.values()):
        name, channel = ups_case.nuclear_target.name, ups_case.scattering_regime
        with _quiet():
            xs = PyDarkNewsCrossSection(ups_case, table_dir=str(table_dir / f"case{index}"))
            _, timer = _timed(xs.FillInterpolationTables, Emax=emax_gev)
        rows.append({"nucleus": name, "channel": channel, "helicity": ups_case.h_upscattered,
                     "table_points": len(xs.total_cross_section_table)
                     + len(xs.differential_cross_section_table), **_t(timer)})
        objects[(name, channel)] = xs
        print(f"  DarkNews fill {name:>6s} {channel:<8s}: {timer.wall_s:7.1f} s wall, "
              f"{timer.cpu_s:7.1f} s CPU", flush=True)
    return rows, objects


def _extrapolate(
    measured: list[dict[str, Any]], all_names: list[str], mass_gev: float, d_gev_inv: float,
    channels: tuple[str, ...],
) -> dict[str, Any]:
    """Scale the measured mean time per case of each channel to every case of all nuclei."""
    import numpy as np

    container = _dn_container(all_names, mass_gev, d_gev_inv)
    counts = {c: 0 for c in channels}
    for ups_case in container.ups_cases.values():
        if ups_case.scattering_regime in counts:
            counts[ups_case.scattering_regime] += 1
    out: dict[str, Any] = {"cases": counts, "wall_s": 0.0, "cpu_s": 0.0}
    for channel, count in counts.items():
        rows = [r for r in measured if r["channel"] == channel]
        if not rows:
            continue
        for key in ("wall_s", "cpu_s"):
            out[key] += count * float(np.mean([r[key] for r in rows]))
    return out


def bench_tables(args: argparse.Namespace, geometry: Any, flux_emax_gev: float,
                 table_dir: Path) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    import numpy as np

    from t2khnl import siren_tables, xsec
    from t2khnl.generate import _targets

    targets = _targets(geometry)
    names = [xsec.nucleus_name(p) for p in targets]
    out: dict[str, Any] = {"nuclei": names, "n_nuclei": len(names)}
    print(f"(a) cross-section tables, {len(names)} ND280 nuclei, m_N = {args.mass} GeV",
          flush=True)

    for label, chans in (("coherent", ("coherent",)), ("coherent+p-el", xsec.CHANNELS)):
        tables, t_build = _timed(xsec.build_tables, args.mass, targets, channels=chans)
        procs, t_siren = _timed(siren_tables.siren_cross_sections, tables, args.d)
        out[f"t2khnl_{label}"] = {"n_tables": len(tables), "n_objects": len(procs),
                                  "build_tables": _t(t_build),
                                  "siren_cross_sections": _t(t_siren)}
        print(f"  t2khnl {label:<14s}: build_tables {t_build.wall_s:6.2f} s, "
              f"siren_cross_sections {t_siren.wall_s:6.2f} s ({len(tables)} tables, "
              f"{len(procs)} SIREN objects)", flush=True)
        del procs
    out["maxrss_mb_after_t2khnl"] = round(_maxrss_mb(), 1)

    # DarkNews: SIREN's wrapper fills from threshold up to (1 + interp_tolerance) x the
    # highest energy it is asked for; generation asks up to the top of the flux.
    emax = 1.05 * flux_emax_gev
    dn_names = names if args.full else [n for n in args.dn_nuclei.split(",") if n]
    unknown = sorted(set(dn_names) - set(names))
    if unknown:
        msg = f"--dn-nuclei {unknown} are not ND280 nuclei ({names})"
        raise SystemExit(msg)
    print(f"  DarkNews (SIREN wrapper) fill up to {emax:.3g} GeV for {dn_names}", flush=True)
    rows, dn_objects = _darknews_fill(dn_names, args.mass, args.d, emax, table_dir)
    measured = {
        c: {"wall_s": sum(r["wall_s"] for r in rows if r["channel"] == c),
            "cpu_s": sum(r["cpu_s"] for r in rows if r["channel"] == c)}
        for c in xsec.CHANNELS
    }
    full = _extrapolate(rows, names, args.mass, args.d, xsec.CHANNELS)
    label = ("measured, all nuclei" if args.full
             else f"extrapolated from {len(dn_names)} nuclei ({', '.join(dn_names)})")
    out["darknews"] = {"emax_gev": emax, "nuclei_timed": dn_names, "cases": rows,
                       "measured_per_channel": measured, "all_nuclei": full,
                       "all_nuclei_label": label, "helicity": "flipping only (noHC=True)"}
    # Extrapolation per channel, to pair with t2khnl's coherent-only and both-channel runs.
    coh_rows = [r for r in rows if r["channel"] == "coherent"]
    coh_all = full["cases"]["coherent"] * float(np.mean([r["wall_s"] for r in coh_rows]))
    coh_all_cpu = full["cases"]["coherent"] * float(np.mean([r["cpu_s"] for r in coh_rows]))
    out["darknews"]["all_nuclei_coherent"] = {"wall_s": coh_all, "cpu_s": coh_all_cpu}
    for key, dn_wall, dn_cpu in (
        ("coherent", coh_all, coh_all_cpu), ("coherent+p-el", full["wall_s"], full["cpu_s"])
    ):
        ours = out[f"t2khnl_{key}"]
        ours_wall = ours["build_tables"]["wall_s"] + ours["siren_cross_sections"]["wall_s"]
        ours_cpu = ours["build_tables"]["cpu_s"] + ours["siren_cross_sections"]["cpu_s"]
        out[f"ratio_{key}"] = {"wall": dn_wall / ours_wall, "cpu": dn_cpu / ours_cpu,
                               "label": label}
    out["maxrss_mb_after_darknews"] = round(_maxrss_mb(), 1)
    return out, dn_objects


# --------------------------------------------------------------------------------------
# (b) generation throughput
# --------------------------------------------------------------------------------------


def _segment(geometry: Any) -> dict[str, Any]:
    """Fixed injection segment: 2 m in front of the first box to the back of the last."""
    fronts = [b.centre[2] - b.widths[2] / 2 for b in geometry.fiducial]
    backs = [b.centre[2] + b.widths[2] / 2 for b in geometry.fiducial]
    radius = max(0.5 * math.hypot(b.widths[0], b.widths[1]) for b in geometry.fiducial)
    return {"segment_start_m": float(min(fronts) - _SEGMENT_UPSTREAM_M),
            "segment_end_m": float(max(backs)), "radius_m": float(radius + _SEGMENT_MARGIN_M)}


def _inject(geometry: Any, processes: list[Any], flux: Any, n_events: int,
            seed: int, bias_energy: bool = True) -> dict[str, Any]:
    import numpy as np

    from t2khnl import injection, reweight

    segment = _segment(geometry)
    sample, timer = _timed(injection.inject_upscatters, geometry.detector_model, processes,
                           (flux.energy_centers_gev, flux.flux), n_events=n_events, seed=seed,
                           bias_energy=bias_energy, **segment)
    n_ok = int(sample.energy_gev.size)
    n_eff = reweight.kish_n_eff(sample.weight_per_pot)
    return {**segment, "attempts": n_events, "events": n_ok, **_t(timer),
            "bias_energy": bias_energy, "n_eff": n_eff,
            "attempts_per_s": n_events / timer.wall_s, "events_per_s": n_ok / timer.wall_s,
            "effective_events_per_s": n_eff / timer.wall_s,
            "attempts_per_cpu_s": n_events / timer.cpu_s,
            "events_per_cpu_s": n_ok / timer.cpu_s,
            "upscatters_per_pot": float(sample.weight_per_pot.sum()),
            "targets": {str(k): int(v) for k, v in
                        zip(*np.unique(sample.target_pdg, return_counts=True), strict=True)}}


def _simulate(detector: str, args: argparse.Namespace) -> dict[str, Any]:
    """simulate() end to end, with the time spent inside inject_upscatters split out."""
    from t2khnl import generate, injection

    inner = _Timer()
    original = injection.inject_upscatters

    def timed_inject(*a: Any, **k: Any) -> Any:
        with inner.run():
            return original(*a, **k)

    injection.inject_upscatters = timed_inject
    try:
        sim, total = _timed(generate.simulate, detector, "fhc", args.mass, args.d,
                            n_events=args.events, seed=1)
    finally:
        injection.inject_upscatters = original
    n_weighted = len(sim.events)
    return {
        "attempts": args.events, "weighted_events": n_weighted,
        "total": _t(total), "injection_loop": _t(inner),
        "setup_and_decays": {"wall_s": total.wall_s - inner.wall_s,
                             "cpu_s": total.cpu_s - inner.cpu_s},
        "attempts_per_s_loop": args.events / inner.wall_s,
        "attempts_per_s_total": args.events / total.wall_s,
        "weighted_events_per_s_total": n_weighted / total.wall_s,
        "attempts_per_cpu_s_loop": args.events / inner.cpu_s,
    }


def bench_generation(args: argparse.Namespace, geometries: dict[str, Any], flux: Any,
                     dn_objects: dict[tuple[str, str], Any]) -> dict[str, Any]:
    from t2khnl import siren_tables, xsec

    out: dict[str, Any] = {}
    dn_names = sorted({name for name, channel in dn_objects if channel == "coherent"})
    reduced_pdgs = [p for p in sorted({p for g in geometries.values()
                                       for p in _targets_of(g)})
                    if xsec.nucleus_name(p) in dn_names]
    reduced = siren_tables.siren_cross_sections(
        xsec.build_tables(args.mass, reduced_pdgs, channels=("coherent",)), args.d)
    dn_procs = [dn_objects[(n, "coherent")] for n in dn_names]
    for detector, geometry in geometries.items():
        print(f"(b) generation, {detector}, {args.events} attempts, m_N = {args.mass} GeV, "
              f"d = {args.d:g} /GeV", flush=True)
        res: dict[str, Any] = {"simulate": _simulate(detector, args)}
        sim = res["simulate"]
        print(f"  simulate(): total {sim['total']['wall_s']:.2f} s, injection loop "
              f"{sim['injection_loop']['wall_s']:.2f} s -> {sim['attempts_per_s_loop']:.0f} "
              f"attempts/s in the loop; {sim['weighted_events']} weighted events", flush=True)
        processes = siren_tables.siren_cross_sections(
            xsec.build_tables(args.mass, _targets_of(geometry), channels=("coherent",)), args.d)
        res["inject_all_nuclei"] = _inject(geometry, processes, flux, args.events, seed=7)
        res["inject_all_nuclei_flux_energies"] = _inject(geometry, processes, flux, args.events,
                                                         seed=7, bias_energy=False)
        del processes
        res["inject_reduced_t2khnl"] = _inject(geometry, reduced, flux, args.events, seed=7)
        n_dn = args.dn_events or args.events
        with _quiet():
            res["inject_reduced_darknews"] = _inject(geometry, dn_procs, flux, n_dn, seed=7)
        for key in ("inject_all_nuclei", "inject_all_nuclei_flux_energies",
                    "inject_reduced_t2khnl", "inject_reduced_darknews"):
            r = res[key]
            print(f"  {key:<32s}: {r['attempts_per_s']:8.0f} attempts/s, "
                  f"{r['events_per_s']:8.0f} events/s ({r['events']}/{r['attempts']}), "
                  f"{r['effective_events_per_s']:8.0f} effective (Kish) events/s", flush=True)
        res["ratio_reduced_attempts_per_s"] = (res["inject_reduced_t2khnl"]["attempts_per_s"]
                                               / res["inject_reduced_darknews"]["attempts_per_s"])
        res["reduced_nuclei"] = dn_names
        out[detector] = res
    out["maxrss_mb_after_generation"] = round(_maxrss_mb(), 1)
    return out


def _targets_of(geometry: Any) -> list[int]:
    from t2khnl.generate import _targets

    return _targets(geometry)


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def _table(results: dict[str, Any]) -> str:
    a, b = results["tables"], results["generation"]
    dn = a["darknews"]
    rows: list[tuple[str, str, str]] = []

    def add(what: str, value: str, note: str = "") -> None:
        rows.append((what, value, note))

    for key in ("coherent", "coherent+p-el"):
        ours = a[f"t2khnl_{key}"]
        add(f"t2khnl build_tables, {a['n_nuclei']} nuclei, {key}",
            f"{ours['build_tables']['wall_s']:.2f} s", f"{ours['n_tables']} tables, 2 helicities")
        add(f"t2khnl siren_cross_sections, {key}",
            f"{ours['siren_cross_sections']['wall_s']:.2f} s",
            f"C++ HNLDipoleFromTable x{ours.get('n_objects', '?')} (one per target)")
    for row in dn["cases"]:
        add(f"DarkNews fill {row['nucleus']} {row['channel']}", f"{row['wall_s']:.1f} s",
            f"measured, CPU {row['cpu_s']:.1f} s, to {dn['emax_gev']:.3g} GeV, 1 helicity")
    add("DarkNews fill, all nuclei, coherent",
        f"{dn['all_nuclei_coherent']['wall_s'] / 60:.1f} min",
        f"{dn['all_nuclei']['cases']['coherent']} cases, {dn['all_nuclei_label']}")
    add("DarkNews fill, all nuclei, coherent+p-el", f"{dn['all_nuclei']['wall_s'] / 60:.1f} min",
        f"{sum(dn['all_nuclei']['cases'].values())} cases, {dn['all_nuclei_label']}")
    for key in ("coherent", "coherent+p-el"):
        r = a[f"ratio_{key}"]
        add(f"ratio DarkNews / t2khnl tables, {key}", f"{r['wall']:.0f}x",
            f"CPU-time ratio {r['cpu']:.0f}x; {r['label']}")
    for detector in ("nd280", "upgrade"):
        res = b[detector]
        sim = res["simulate"]
        q = _QUOTED[detector]
        add(f"{detector}: simulate() total", f"{sim['total']['wall_s']:.2f} s",
            f"{sim['attempts']} attempts, {sim['weighted_events']} weighted events")
        add(f"{detector}: simulate() setup + decays",
            f"{sim['setup_and_decays']['wall_s']:.2f} s", "tables, SIREN objects, decays")
        add(f"{detector}: simulate() injection loop",
            f"{sim['attempts_per_s_loop']:.0f} attempts/s",
            f"{sim['injection_loop']['wall_s']:.2f} s; CPU {sim['attempts_per_cpu_s_loop']:.0f}"
            " attempts/s")
        add(f"{detector}: simulate() overall", f"{sim['attempts_per_s_total']:.0f} attempts/s",
            f"{sim['weighted_events_per_s_total']:.0f} weighted events/s (decay in a box)")
        for key, label in (("inject_all_nuclei", "t2khnl, all nuclei"),
                           ("inject_all_nuclei_flux_energies",
                            "t2khnl, all nuclei, E drawn from the flux"),
                           ("inject_reduced_t2khnl", "t2khnl, reduced problem"),
                           ("inject_reduced_darknews", "DarkNews callbacks, reduced problem")):
            r = res[key]
            add(f"{detector}: inject_upscatters, {label}", f"{r['attempts_per_s']:.0f} attempts/s",
                f"{r['events_per_s']:.0f} weighted events/s ({r['events']}/{r['attempts']}); "
                f"{r['effective_events_per_s']:.0f} effective (Kish) events/s; "
                f"per CPU-s: {r['attempts_per_cpu_s']:.0f} attempts, "
                f"{r['events_per_cpu_s']:.0f} events")
        fast, slow = res["inject_reduced_t2khnl"], res["inject_reduced_darknews"]
        add(f"{detector}: ratio t2khnl / DarkNews, reduced problem",
            f"{res['ratio_reduced_attempts_per_s']:.0f}x",
            f"CPU-time ratio {fast['attempts_per_cpu_s'] / slow['attempts_per_cpu_s']:.0f}x; "
            f"only {', '.join(res['reduced_nuclei'])} interact; measured")
        allr = res["inject_all_nuclei"]
        add(f"{detector}: ratio t2khnl all nuclei / quoted straightforward",
            f"{allr['attempts_per_s'] / q['generation_events_per_s']:.0f}x",
            f"per CPU-s {allr['attempts_per_cpu_s'] / q['generation_events_per_s']:.0f}x; "
            "t2khnl measured, straightforward quoted from SIREN_NOTES (with decays)")
        add(f"{detector}: straightforward path, full problem",
            f"~{q['generation_events_per_s']} events/s",
            f"quoted from SIREN_NOTES (not measured): weighting ~{q['weighting_events_per_s']}"
            f" events/s, peak {q['peak_memory_gb']} GB")
    mem = results["memory"]
    add("peak memory after imports + geometries",
        f"{mem['after_imports_and_geometries_mb']:.0f} MB", "ru_maxrss")
    add("peak memory after t2khnl tables", f"{mem['after_t2khnl_tables_mb']:.0f} MB", "ru_maxrss")
    add("peak memory after DarkNews fill", f"{mem['after_darknews_fill_mb']:.0f} MB", "ru_maxrss")
    add("peak memory, whole run", f"{mem['peak_mb']:.0f} MB", "ru_maxrss")
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{'what':<{w0}}  {'value':>{w1}}  note", "-" * (w0 + w1 + 40)]
    lines += [f"{r[0]:<{w0}}  {r[1]:>{w1}}  {r[2]}" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000,
                        help="injection attempts per generation measurement (default 5000)")
    parser.add_argument("--mass", type=float, default=0.47, help="HNL mass [GeV] (0.47)")
    parser.add_argument("--d", type=float, default=1.25e-6,
                        help="dipole coupling d [1/GeV] (1.25e-6, i.e. mu_tr = 2.5e-6)")
    parser.add_argument("--full", action="store_true",
                        help="time DarkNews's table fill for every nucleus (~40 min)")
    parser.add_argument("--dn-nuclei", default="C12,O16",
                        help="nuclei DarkNews is timed on without --full (C12,O16)")
    parser.add_argument("--dn-events", type=int, default=0,
                        help="attempts with DarkNews callbacks (default: --events)")
    parser.add_argument("--report", type=Path, default=None,
                        help="only print the table of a results JSON written earlier")
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).resolve().parent / "results.json",
                        help="JSON results (default benchmarks/results.json)")
    args = parser.parse_args(argv)
    if args.report is not None:
        print(_table(json.loads(args.report.read_text())))
        return 0
    # One thread per process (set before numpy is imported): the rates are per core.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")

    _forbid_network()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("t2khnl").setLevel(logging.ERROR)  # "no cross section for nuclei"
    load_start = os.getloadavg()
    start = time.perf_counter()

    def setup() -> tuple[Any, dict[str, Any]]:
        # Imports (DarkNews, SIREN) and geometry loading are timed apart, so that the table
        # timings below do not depend on which comes first.
        import DarkNews.nuclear_tools  # noqa: F401
        import siren.SIREN_DarkNews  # noqa: F401

        from t2khnl import generate  # noqa: F401
        from t2khnl.flux import load_beam_flux
        from t2khnl.geometry import load as load_geometry

        return load_beam_flux("fhc"), {"nd280": load_geometry("nd280", "corrected"),
                                       "upgrade": load_geometry("nd280upgrade", "corrected")}

    (flux, geometries), t_setup = _timed(setup)
    rss_setup = round(_maxrss_mb(), 1)
    print(f"imports, flux and geometries: {t_setup.wall_s:.1f} s, {rss_setup:.0f} MB", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_darknews_") as tmp:
        tables, dn_objects = bench_tables(args, geometries["nd280"],
                                          float(flux.energy_centers_gev[-1]), Path(tmp))
        generation = bench_generation(args, geometries, flux, dn_objects)
    import DarkNews
    import siren

    results = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {"events": args.events, "mass_gev": args.mass, "d_gev_inv": args.d,
                     "full": args.full, "beam": "fhc", "preset": "corrected"},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                    "siren": getattr(siren, "__version__", "0.1.0"),
                    "darknews": DarkNews.__version__},
        "imports_flux_geometries": _t(t_setup),
        "tables": tables,
        "generation": generation,
        "memory": {"after_imports_and_geometries_mb": rss_setup,
                   "after_t2khnl_tables_mb": tables["maxrss_mb_after_t2khnl"],
                   "after_darknews_fill_mb": tables["maxrss_mb_after_darknews"],
                   "after_generation_mb": generation["maxrss_mb_after_generation"],
                   "peak_mb": round(_maxrss_mb(), 1)},
        "quoted_from_siren_notes": _QUOTED,
        "run_wall_s": time.perf_counter() - start,
    }
    print()
    print(_table(results))
    print(f"\nload average: start {load_start}, end {os.getloadavg()}; "
          f"run {results['run_wall_s']:.0f} s")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=1, default=float) + "\n")
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
