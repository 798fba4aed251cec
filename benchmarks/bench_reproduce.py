"""Benchmark: ``t2khnl reproduce`` (both presets) from cold caches, and where its time goes.

One run measures and prints

(a) the wall time of :func:`t2khnl.reproduce.reproduce` with a fresh ``T2KHNL_CACHE_DIR``
    (cross-section tables and geometry built from scratch), ``--workers`` processes;
(b) the CPU time of this process and of its worker processes (``getrusage``);
(c) the CPU seconds the workers spent per scan folder (the sum of the masses'
    ``elapsed_s``: the preset scans and the walk's steps), the events they injected, and
    how many masses needed more than their first attempt;
(d) when the last mass finished (the pool's simulation work) against the end of the run
    (figures, headline numbers, HEPData);
(e) the peak resident memory of this process and of its largest worker.

The issue's target is (a) <= 10 min on 2 cores. Network connections are refused in this
process (not in the spawned workers, which run the same offline code).

Usage::

    python benchmarks/bench_reproduce.py [--workers 2] [--quick] [--output DIR] [--report FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation import _forbid_network

_STAMP = "%Y-%m-%d %H:%M:%S,%f"


def _scan_folders(out: Path) -> list[Path]:
    return sorted(path.parent for path in out.glob("**/scans/*/scan.json"))


def _folder_costs(folder: Path) -> dict[str, Any]:
    """CPU seconds, events and reruns of one scan folder's masses."""
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("masses/m*.json"))]
    first = json.loads((folder / "scan.json").read_text())["n_events"]
    return {
        "masses": len(results),
        "worker_s": sum(r["elapsed_s"] for r in results),
        "events_per_beam": sum(r["n_events"] for r in results),
        "more_than_first_attempt": sum(r["n_events"] > first for r in results),
    }


def _last_mass_finished(out: Path) -> datetime:
    """Time stamp of the last "done in" line of the scans' logs."""
    stamps = []
    for folder in _scan_folders(out):
        for line in (folder / "scan.log").read_text().splitlines():
            if " done in " in line or " skipped in " in line:
                stamps.append(datetime.strptime(line[:23], _STAMP))
    return max(stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the --quick settings")
    parser.add_argument("--output", type=Path, default=None, help="reproduce's folder")
    parser.add_argument("--report", type=Path, default=None, help="write the report (JSON)")
    args = parser.parse_args()
    _forbid_network()
    from t2khnl import reproduce

    with tempfile.TemporaryDirectory(prefix="t2khnl_bench_") as tmp:
        os.environ["T2KHNL_CACHE_DIR"] = str(Path(tmp) / "cache")
        out = args.output or Path(tmp) / "paper"
        start = time.perf_counter()
        began = datetime.now()
        reproduce.reproduce(out, quick=args.quick, workers=args.workers, progress=False)
        wall = time.perf_counter() - start
        ended = datetime.now()
        own, children = (resource.getrusage(who) for who in
                         (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        folders = {str(f.relative_to(out)): _folder_costs(f) for f in _scan_folders(out)}
        pool_end = _last_mass_finished(out)
    report = {
        "workers": args.workers, "quick": args.quick, "wall_s": wall,
        "cpu_s": {"this_process": own.ru_utime + own.ru_stime,
                  "workers": children.ru_utime + children.ru_stime},
        "last_mass_after_s": (pool_end - began).total_seconds(),
        "after_last_mass_s": (ended - pool_end).total_seconds(),
        "peak_rss_mb": {"this_process": own.ru_maxrss / 1024,
                        "largest_worker": children.ru_maxrss / 1024},
        "scan_folders": folders,
    }
    print(f"t2khnl reproduce{' --quick' if args.quick else ''}, {args.workers} workers, "
          f"cold caches: {wall / 60:.1f} min wall "
          f"(last mass after {report['last_mass_after_s'] / 60:.1f} min, then "
          f"{report['after_last_mass_s']:.0f} s of figures, numbers and HEPData)")
    print(f"CPU: {report['cpu_s']['workers']:.0f} s in workers, "
          f"{report['cpu_s']['this_process']:.0f} s here; peak RSS "
          f"{report['peak_rss_mb']['this_process']:.0f} MB here, "
          f"{report['peak_rss_mb']['largest_worker']:.0f} MB largest worker")
    print("| scan folder | masses | worker CPU [s] | events per beam | masses with more "
          "than the first attempt |")
    print("|---|---|---|---|---|")
    for name, cost in folders.items():
        print(f"| {name} | {cost['masses']} | {cost['worker_s']:.0f} | "
              f"{cost['events_per_beam']:,} | {cost['more_than_first_attempt']} |")
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
