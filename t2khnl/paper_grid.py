"""``t2khnl validate paper-grid``: the paper's coarse-grid contour against our smooth one
(issue 14, part 3).

For each detector, three lower edges of the 95% CL region in (m_N [GeV], d [GeV^-1]): ours
from the ``published`` scans (:func:`smooth_edge`), ours contoured on the authors' 10 x 10
grid as their plotting code does (:func:`t2khnl.paper_contour.grid_statistic`, one
simulation per grid mass and beam), and the paper's curve. :func:`validate` writes
``paper_grid_<det>.json`` (the grid statistic, read back on a rerun), ``paper_grid.md``
(ours / paper, :func:`ratio_table`) and ``paper_grid.{pdf,png}``
(:func:`t2khnl.plots.paper_grid.plot` of :func:`panels`). Details: docs/published.md.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import authors, config, files, generate, paper_contour
from .errors import DataFileError, InputError
from .flux import data_folder
from .paper_contour import FloatArray
from .scanstore import ScanStore

log = logging.getLogger(__name__)

#: Scan folder of each detector in a ``t2khnl reproduce`` output's ``scans/``.
SCAN_FOLDERS = {"nd280": "nd280_2019", "upgrade": "upgrade"}
LABELS = {"nd280": "ND280 2019", "upgrade": "T2K + T2K-II"}
#: Masses [GeV] of the comparison table (issue 14).
TABLE_MASSES_GEV = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
#: Masses at which the figure's ratio panel compares each curve with the paper's.
RATIO_POINTS = 200

#: A lower edge: masses [GeV] and d_low [GeV^-1].
Edge = tuple[FloatArray, FloatArray]


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


def smooth_edge(scan_dir: str | os.PathLike[str]) -> Edge:
    """A scan's lower edges: masses [GeV] and d_low [GeV^-1] where quoted."""
    records = [r for r in ScanStore(scan_dir).records() if r.get("d_low")]
    records.sort(key=lambda r: r["mass_gev"])
    return (np.array([r["mass_gev"] for r in records]),
            np.array([r["d_low"] for r in records]))


def interpolate_edge(masses: FloatArray, d_low: FloatArray, mass_gev: float) -> float | None:
    """d_low [GeV^-1] at ``mass_gev``, log-log between the given masses (None outside)."""
    if masses.size < 2 or not masses[0] <= mass_gev <= masses[-1]:
        return None
    return math.exp(float(np.interp(math.log(mass_gev), np.log(masses), np.log(d_low))))


def ratio_table(smooth: Mapping[str, Edge], grids: Mapping[str, paper_contour.GridStatistic],
                *, data_dir: str | os.PathLike[str] | None = None) -> str:
    """Markdown: ours / paper at :data:`TABLE_MASSES_GEV`, smooth and grid-contoured."""
    head = "| detector | curve | " + " | ".join(f"{m * 1e3:.0f}" for m in TABLE_MASSES_GEV)
    lines = [head + " |", "|---|---|" + "---|" * len(TABLE_MASSES_GEV)]
    for det in grids:
        paper_m, paper_d = authors.read_curve(det, data_dir)
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


class Panel(NamedTuple):
    """What the figure draws of one detector (:func:`t2khnl.plots.paper_grid.plot`).

    Attributes:
        label: the detector's legend title.
        paper: the paper's lower edge: masses [GeV], d [GeV^-1].
        grid_lines: the contour of our statistic on their grid, each line (n, 2) of
            (m_N [GeV], d [GeV^-1]).
        grid_masses_gev: their grid's masses [GeV].
        grid_d_gev_inv: their grid's couplings [GeV^-1].
        smooth: our d-scan lower edge (None: no scan given).
        ratio_masses_gev: the masses of ``ratios`` [GeV], over the paper's curve.
        ratios: ours / paper at ``ratio_masses_gev``: ``"grid"`` (our grid contour) and,
            with a scan, ``"scan"`` (our d-scan edge); NaN where a curve does not reach a
            mass.
    """

    label: str
    paper: Edge
    grid_lines: list[FloatArray]
    grid_masses_gev: FloatArray
    grid_d_gev_inv: FloatArray
    smooth: Edge | None
    ratio_masses_gev: FloatArray
    ratios: dict[str, FloatArray]


def panels(smooth: Mapping[str, Edge], grids: Mapping[str, paper_contour.GridStatistic], *,
           data_dir: str | os.PathLike[str] | None = None) -> dict[str, Panel]:
    """The figure's data, by detector (those of ``grids``)."""
    out = {}
    for det, grid in grids.items():
        paper_m, paper_d = authors.read_curve(det, data_dir)
        lines = grid.contour()
        masses = np.geomspace(paper_m[0], paper_m[-1], RATIO_POINTS)
        paper = np.array([interpolate_edge(paper_m, paper_d, m) for m in masses])
        ratios = {"grid": _over(functools.partial(paper_contour.lower_edge, lines), masses,
                                paper)}
        if det in smooth:
            ratios["scan"] = _over(functools.partial(interpolate_edge, *smooth[det]), masses,
                                   paper)
        out[det] = Panel(LABELS[det], (paper_m, paper_d), lines, grid.masses_gev,
                         grid.d_gev_inv, smooth.get(det), masses, ratios)
    return out


def _over(edge: Callable[[float], float | None], masses: FloatArray,
          paper: FloatArray) -> FloatArray:
    """An edge [GeV^-1] over the paper's at each mass [GeV], NaN where it has none."""
    ours = np.array([np.nan if e is None else e for e in map(edge, masses)], dtype=float)
    return ours / paper


class PaperGrid(NamedTuple):
    """What :func:`validate` computed and wrote.

    Attributes:
        grids: our statistic on their grid, by detector.
        smooth: our d-scan lower edge, by detector (those with a scan).
        table: ``paper_grid.md`` (:func:`ratio_table`).
        written: the files written.
    """

    grids: dict[str, paper_contour.GridStatistic]
    smooth: dict[str, Edge]
    table: str
    written: list[Path]


def check_arguments(output_dir: str | os.PathLike[str], *, detectors: Sequence[str],
                    scan_dir: str | os.PathLike[str] | None, scans: Sequence[str],
                    n_events: int, seed: int,
                    data_dir: str | os.PathLike[str] | None) -> tuple[Path, dict[str, list[Path]]]:
    """Check the arguments of :func:`validate` (same meaning); nothing is written.

    Returns:
        The output folder and the scan folders of each detector.

    Raises:
        InputError: a bad argument; a scan folder that does not exist; the output path is an
            existing file.
    """
    if not detectors:
        msg = "at least one detector is needed"
        raise InputError(msg)
    for detector in detectors:
        config.check_choice("detector", detector, config.DETECTORS)
    generate.check_model_point(float(paper_contour.GRID_MASSES_GEV[0]),
                               float(paper_contour.GRID_D_GEV_INV[0]), n_events)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise InputError(msg)
    data_folder(None if data_dir is None else str(data_dir))
    folders: dict[str, list[Path]] = {det: [] for det in detectors}
    for spec in scans:
        det, sep, folder = spec.partition("=")
        if not sep or det not in config.DETECTORS or not folder:
            msg = (f"--scan must be DETECTOR=FOLDER with DETECTOR one of "
                   f"{', '.join(config.DETECTORS)}, got {spec!r}")
            raise InputError(msg)
        if not Path(folder).is_dir():
            msg = f"scan folder {folder} (--scan {spec}) does not exist"
            raise InputError(msg)
        if det in folders:
            folders[det].append(Path(folder))
    if scan_dir is not None:
        if not Path(scan_dir).is_dir():
            msg = f"--scan-dir {scan_dir} does not exist (a reproduce output's scans/ folder)"
            raise InputError(msg)
        for det in detectors:
            folders[det].append(Path(scan_dir) / SCAN_FOLDERS[det])
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        msg = f"output {out} exists and is not a folder"
        raise InputError(msg)
    return out, folders


def validate(output_dir: str | os.PathLike[str], *,
             detectors: Sequence[str] = config.DETECTORS,
             scan_dir: str | os.PathLike[str] | None = None, scans: Sequence[str] = (),
             n_events: int = 5000, seed: int = 1,
             data_dir: str | os.PathLike[str] | None = None,
             announce: Callable[[str], object] | None = None) -> PaperGrid:
    """Compute (or read back) our ``published`` statistic on the authors' grid, contour it
    their way, and write it with our d-scan edges and the paper's (module docstring).

    Args:
        output_dir: the folder to write to (created).
        detectors: ``"nd280"`` and/or ``"upgrade"``.
        scan_dir: a ``t2khnl reproduce`` output's ``scans/`` folder (each detector's scan
            in its :data:`SCAN_FOLDERS` folder), for the smooth edges.
        scans: further scan folders, as ``"DETECTOR=FOLDER"``; their masses join
            ``scan_dir``'s.
        n_events: upscatters per beam and grid mass.
        seed: random seed of every simulation.
        data_dir: the data folder.
        announce: called with a line per grid mass done and per file read back.

    Returns:
        The statistics, the smooth edges, the table and the files written.

    Raises:
        InputError: a bad argument (checked before anything is written).
        DataFileError: missing or modified data.
    """
    say = announce or (lambda line: log.info("%s", line))
    out, folders = check_arguments(output_dir, detectors=detectors, scan_dir=scan_dir,
                                   scans=scans, n_events=n_events, seed=seed, data_dir=data_dir)
    grids: dict[str, paper_contour.GridStatistic] = {}
    smooth: dict[str, Edge] = {}
    written: list[Path] = []
    for det in detectors:
        path = out / f"paper_grid_{det}.json"
        if path.exists():
            grids[det] = read_grid(path)
            say(f"{det}: grid statistic read back from {path}")
        else:
            grids[det] = paper_contour.grid_statistic(
                det, n_events=n_events, seed=seed, data_dir=data_dir,
                progress=functools.partial(_mass_done, say, det))
            out.mkdir(parents=True, exist_ok=True)
            written.append(files.write_text(path, grid_json(grids[det])))
        edges = []
        for folder in folders[det]:
            try:
                edges.append(smooth_edge(folder))
            except (DataFileError, InputError) as err:
                log.warning("no smooth curve for %s from %s: %s", det, folder, err)
        if edges:
            masses = np.concatenate([e[0] for e in edges])
            order = np.argsort(masses)
            smooth[det] = (masses[order], np.concatenate([e[1] for e in edges])[order])
    table = ratio_table(smooth, grids, data_dir=data_dir)
    out.mkdir(parents=True, exist_ok=True)
    written.append(files.write_text(out / "paper_grid.md", table))
    written += _figure(panels(smooth, grids, data_dir=data_dir), out / "paper_grid")
    return PaperGrid(grids, smooth, table, written)


def _mass_done(say: Callable[[str], object], detector: str, mass_gev: float) -> None:
    say(f"{detector}: {mass_gev:.4g} GeV done")


def _figure(data: Mapping[str, Panel], stem: Path) -> list[Path]:
    """Draw and save the figure (.pdf and .png)."""
    from .plots import paper_grid, style

    fig = paper_grid.plot(data)
    try:
        return list(style.save(fig, stem))
    finally:
        style.close(fig)


__all__ = ["LABELS", "SCAN_FOLDERS", "TABLE_MASSES_GEV", "Panel", "PaperGrid",
           "check_arguments", "grid_json", "interpolate_edge", "panels", "ratio_table",
           "read_grid", "smooth_edge", "validate"]
