"""The paper's coarse-grid contour against our smooth one (issue 14, part 3).

For each detector, three lower edges of the 95% CL region in (m_N [GeV], d [GeV^-1]):
ours from the ``published`` scan (:func:`smooth_edge`), ours contoured on the authors' 10 x
10 grid as their plotting code does (:mod:`t2khnl.paper_contour`), and the paper's curve
(validation data in ``flux/data/authors``); a lower panel shows each over the paper's. If
the grid-contoured curve follows the paper's where the smooth one does not, the coarse grid
explains the difference.

Run: ``python -m t2khnl.plots.paper_grid --scan-dir OUT/scans --output DIR``; the grid
statistic is written to ``DIR/paper_grid_<det>.json`` and read back on a rerun.
Details: docs/published.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from t2khnl import authors, files, paper_contour
from t2khnl.errors import DataFileError, InputError
from t2khnl.plots.style import COLUMN_WIDTH_IN, close, corner_label, save, style
from t2khnl.scanstore import ScanStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: Scan folder of each detector in a ``t2khnl reproduce`` output's ``scans/``.
SCAN_FOLDERS = {"nd280": "nd280_2019", "upgrade": "upgrade"}
LABELS = {"nd280": "ND280 2019", "upgrade": "T2K + T2K-II"}
#: Masses [GeV] of the comparison table (issue 14).
TABLE_MASSES_GEV = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


def grid_json(stat: paper_contour.GridStatistic) -> str:
    """A :class:`t2khnl.paper_contour.GridStatistic` as JSON (units in the keys)."""
    return json.dumps({
        "detector": stat.detector, "preset": stat.preset, "n_events": stat.n_events,
        "masses_gev": stat.masses_gev.tolist(), "d_gev_inv": stat.d_gev_inv.tolist(),
        "signal_events": stat.signal.tolist(), "ratio_to_95cl": stat.ratio.tolist(),
    }, indent=1) + "\n"


def read_grid(path: str | os.PathLike[str]) -> paper_contour.GridStatistic:
    """Read :func:`grid_json`'s file."""
    spec = json.loads(Path(path).read_text())
    return paper_contour.GridStatistic(
        spec["detector"], spec["preset"], np.array(spec["masses_gev"]),
        np.array(spec["d_gev_inv"]), np.array(spec["signal_events"]),
        np.array(spec["ratio_to_95cl"]), int(spec["n_events"]))


def smooth_edge(scan_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """A scan's lower edges: masses [GeV] and d_low [GeV^-1] where quoted."""
    records = [r for r in ScanStore(scan_dir).records() if r.get("d_low")]
    records.sort(key=lambda r: r["mass_gev"])
    return (np.array([r["mass_gev"] for r in records]),
            np.array([r["d_low"] for r in records]))


def interpolate_edge(masses: np.ndarray, d_low: np.ndarray, mass_gev: float) -> float | None:
    """d_low [GeV^-1] at ``mass_gev``, log-log between the given masses (None outside)."""
    if masses.size < 2 or not masses[0] <= mass_gev <= masses[-1]:
        return None
    return math.exp(float(np.interp(math.log(mass_gev), np.log(masses), np.log(d_low))))


def ratio_table(smooth: dict[str, tuple[np.ndarray, np.ndarray]],
                grids: dict[str, paper_contour.GridStatistic]) -> str:
    """Markdown: ours / paper at :data:`TABLE_MASSES_GEV`, smooth and grid-contoured."""
    head = "| detector | curve | " + " | ".join(f"{m * 1e3:.0f}" for m in TABLE_MASSES_GEV)
    lines = [head + " |", "|---|---|" + "---|" * len(TABLE_MASSES_GEV)]
    for det in grids:
        paper_m, paper_d = authors.read_curve(det)
        rows = {"ours (d scan) / paper": (lambda m, det=det: interpolate_edge(*smooth[det], m))
                if det in smooth else None,
                "ours (their grid) / paper":
                    lambda m, det=det: paper_contour.lower_edge(grids[det].contour(), m)}
        for name, edge in rows.items():
            if edge is None:
                continue
            cells = []
            for m in TABLE_MASSES_GEV:
                ours, paper = edge(m), interpolate_edge(paper_m, paper_d, m)
                cells.append("" if ours is None or paper is None else f"{ours / paper:.2f}")
            lines.append(f"| {LABELS[det]} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(smooth: dict[str, tuple[np.ndarray, np.ndarray]],
         grids: dict[str, paper_contour.GridStatistic]) -> Figure:
    """One column per detector: the three lower edges (top) and each over the paper's
    (bottom)."""
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(2, len(grids), figsize=(COLUMN_WIDTH_IN * len(grids),
                                                         COLUMN_WIDTH_IN * 1.15),
                                 sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": (2.2, 1)})
        for col, det in enumerate(grids):
            top, bottom = axes[0, col], axes[1, col]
            paper_m, paper_d = authors.read_curve(det)
            grid_lines = grids[det].contour()
            top.plot(paper_m * 1e3, paper_d, color="black", lw=1.6, label="paper")
            for k, line in enumerate(grid_lines):
                top.plot(line[:, 0] * 1e3, line[:, 1], color="tab:orange", lw=1.3, ls="--",
                         label="ours, their grid" if k == 0 else None)
            mm, dd = np.meshgrid(grids[det].masses_gev, grids[det].d_gev_inv)
            top.scatter(mm.ravel() * 1e3, dd.ravel(), s=4, color="0.6", zorder=0,
                        label="their grid")
            masses = np.geomspace(paper_m[0], paper_m[-1], 200)
            ratios = {"ours, their grid": [paper_contour.lower_edge(grid_lines, m)
                                           for m in masses]}
            if det in smooth:
                top.plot(smooth[det][0] * 1e3, smooth[det][1], color="tab:blue", lw=1.3,
                         label="ours, d scan")
                ratios["ours, d scan"] = [interpolate_edge(*smooth[det], m) for m in masses]
            colours = {"ours, their grid": "tab:orange", "ours, d scan": "tab:blue"}
            for name, edges in ratios.items():
                paper = np.array([interpolate_edge(paper_m, paper_d, m) for m in masses])
                values = np.array([np.nan if e is None else e for e in edges], dtype=float)
                bottom.plot(masses * 1e3, values / paper, color=colours[name], lw=1.2)
            bottom.axhline(1.0, color="black", lw=0.8)
            top.set(xscale="log", yscale="log", ylim=(2e-8, 6e-6))
            top.set_ylabel(r"$d_{\mu N}$ [GeV$^{-1}$]")
            bottom.set(xscale="log", ylim=(0.3, 2.5), xlabel=r"$m_N$ [MeV]",
                       ylabel="ours / paper")
            top.legend(loc="upper left", fontsize="small", title=LABELS[det])
            corner_label(top, rlabel="95% CL, published preset", left=col == 0)
        fig.align_ylabels()
    return fig


def _log_mass_done(detector: str, mass_gev: float) -> None:
    log.info("%s: %.4g GeV done", detector, mass_gev)


def main(argv: list[str] | None = None) -> None:
    """Compute (or reread) the grid statistics, write the figure and the ratio table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--scan-dir", type=Path, help="a reproduce output's scans/ folder")
    parser.add_argument("--scan", action="append", default=[], metavar="DETECTOR=FOLDER",
                        help="a further scan folder of a detector (repeatable; its masses "
                             "join the --scan-dir ones)")
    parser.add_argument("--detectors", default="nd280,upgrade")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    grids, smooth = {}, {}
    for det in args.detectors.split(","):
        path = args.output / f"paper_grid_{det}.json"
        if path.exists():
            grids[det] = read_grid(path)
        else:
            grids[det] = paper_contour.grid_statistic(
                det, n_events=args.events, seed=args.seed,
                progress=functools.partial(_log_mass_done, det))
            args.output.mkdir(parents=True, exist_ok=True)
            files.write_text(path, grid_json(grids[det]))
        folders = [Path(spec.split("=", 1)[1]) for spec in args.scan
                   if spec.split("=", 1)[0] == det]
        if args.scan_dir is not None:
            folders.append(args.scan_dir / SCAN_FOLDERS[det])
        edges = []
        for folder in folders:
            try:
                edges.append(smooth_edge(folder))
            except (DataFileError, InputError) as err:
                log.warning("no smooth curve for %s from %s: %s", det, folder, err)
        if edges:
            masses = np.concatenate([e[0] for e in edges])
            order = np.argsort(masses)
            smooth[det] = (masses[order], np.concatenate([e[1] for e in edges])[order])
    table = ratio_table(smooth, grids)
    files.write_text(args.output / "paper_grid.md", table)
    log.info("ours / paper:\n%s", table)
    fig = plot(smooth, grids)
    save(fig, args.output / "paper_grid")
    close(fig)


if __name__ == "__main__":
    main()
