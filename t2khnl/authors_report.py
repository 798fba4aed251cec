"""``t2khnl validate authors``: the recomputation of :mod:`t2khnl.authors` run over the
chosen grid points, written as ``authors_runs.csv`` (one row per run and point) and
``authors_runs.md`` (per run family and beam: median ours / theirs, its range by mass band,
and the family's explanation).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import config, files, generate
from .authors import (
    DEFAULT_MASS_INDICES,
    FAMILIES,
    GRID_MASSES_GEV,
    LONG_LIVED_MAX_GEV,
    MASS_BANDS_GEV,
    RUNS,
    AuthorsYield,
    BoxYield,
    Family,
    Run,
    RunComparison,
    box_yields,
    compare_point,
    grid_point,
    points_near_curve,
    read_curve,
    read_yields,
    require_gas,
)
from .errors import InputError

log = logging.getLogger(__name__)


def check_arguments(output_dir: str | os.PathLike[str], *, detectors: Sequence[str],
                    beams: Sequence[str], n_events: int, seed: int,
                    mass_indices: Sequence[int] | None,
                    points: Sequence[int] | None = None) -> Path:
    """Check the arguments of :func:`validate` (same meaning); nothing is written.

    Returns:
        The output folder.

    Raises:
        InputError: a bad argument; the output path is an existing file.
    """
    if not detectors or not beams:
        msg = "at least one detector and one beam are needed"
        raise InputError(msg)
    for detector in detectors:
        config.check_choice("detector", detector, config.DETECTORS)
    for beam in beams:
        config.check_choice("beam", beam, config.BEAMS)
    generate.check_model_point(float(GRID_MASSES_GEV[0]), 1e-7, n_events)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise InputError(msg)
    if mass_indices is not None:
        for k in mass_indices:
            if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < GRID_MASSES_GEV.size:
                msg = f"grid mass indices must be integers in [0, 10), got {k!r}"
                raise InputError(msg)
    for index in points or ():
        grid_point(index)
    out = Path(output_dir)
    if out.exists() and not out.is_dir():
        msg = f"output {out} exists and is not a folder"
        raise InputError(msg)
    return out


def validate(output_dir: str | os.PathLike[str], *, detectors: Sequence[str] = config.DETECTORS,
             beams: Sequence[str] = config.BEAMS, n_events: int = 6000, seed: int = 1,
             all_points: bool = False, mass_indices: Sequence[int] | None = None,
             points: Sequence[int] | None = None, data_dir: str | os.PathLike[str] | None = None,
             announce: Callable[[str], object] | None = None) -> list[RunComparison]:
    """Recompute the authors' per-run yields and write ``authors_runs.csv`` and
    ``authors_runs.md`` to ``output_dir``.

    Args:
        output_dir: the folder to write to (created).
        detectors: ``"nd280"`` (runs OGTPC1-3) and/or ``"upgrade"`` (ND280UPGRD, TPC2-5).
        beams: ``"fhc"`` and/or ``"rhc"``.
        n_events: upscatters injected per simulation (one per detector, beam and point).
        seed: random seed of every simulation.
        all_points: every grid point of theirs (10 x 10, two hours or more) instead of
            their points nearest their curve at the masses of ``mass_indices``.
        mass_indices: grid mass indices (0-9) of the points near their curve (default
            :data:`DEFAULT_MASS_INDICES`).
        points: their grid indices (0-99) to compare at instead (e.g. small couplings).
        data_dir: the data folder.
        announce: called with a line per simulated point.

    Returns:
        One comparison per run, beam and point, in file order.

    Raises:
        InputError: a bad argument (checked before anything is written).
        DataFileError: missing or modified data.
    """
    out = check_arguments(output_dir, detectors=detectors, beams=beams, n_events=n_events,
                          seed=seed, mass_indices=mass_indices, points=points)
    plan: list[tuple[str, str, int, list[AuthorsYield]]] = []
    for detector in detectors:
        indices = (tuple(range(100)) if all_points else tuple(points) if points else
                   points_near_curve(detector, mass_indices or DEFAULT_MASS_INDICES, data_dir))
        for beam in beams:
            rows = read_yields(detector, beam, data_dir)
            by_index: dict[int, list[AuthorsYield]] = {}
            for row in rows:
                by_index.setdefault(row.index, []).append(row)
            plan.extend((detector, beam, i, by_index.get(i, [])) for i in indices)
    require_gas(config.load("published"))
    results: list[RunComparison] = []
    for detector, beam, index, their_rows in plan:
        mass, mu_tr = grid_point(index)
        yields = box_yields(detector, beam, mass, mu_tr, n_events=n_events, seed=seed,
                            data_dir=data_dir)
        point = compare_point(their_rows, yields)
        results.extend(point)
        if announce is not None:
            ratios = ", ".join(f"{c.run} {c.ratio:.3g}" for c in point)
            announce(f"{detector} {beam} m = {mass:.4g} GeV, mu_tr = {mu_tr:.3g}: "
                     f"ours/theirs {ratios}")
    out.mkdir(parents=True, exist_ok=True)
    files.write_text(out / "authors_runs.csv", comparisons_csv(results))
    files.write_text(out / "authors_runs.md", summary_markdown(results, n_events=n_events))
    return results


CSV_COLUMNS = ("run", "beam", "m_gev", "mu_tr", "theirs", "ours", "ours_over_theirs",
               "mc_error", "box", "decay_region", "ours_fiducial", "ours_gas")


def comparisons_csv(rows: Iterable[RunComparison]) -> str:
    """The comparisons as CSV text (:data:`CSV_COLUMNS`; yields in events at the run's MC
    exposure before BR, mu_tr in GeV^-1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in rows:
        writer.writerow([c.run, c.beam, f"{c.mass_gev:.6g}", f"{c.mu_tr_gev_inv:.6g}",
                         f"{c.theirs:.6g}", f"{c.ours:.6g}", f"{c.ratio:.4g}",
                         f"{c.mc_error:.3g}", c.box, c.decay_region,
                         f"{c.ours_fiducial:.6g}", f"{c.ours_gas:.6g}"])
    return buffer.getvalue()


@dataclass(frozen=True)
class FamilyStats:
    """ours/theirs of a family and beam over the points compared.

    Attributes:
        n: points with a non-zero yield of theirs.
        median: median ratio (NaN if none).
        low: smallest ratio.
        high: largest ratio.
        long_lived_median: median over the points up to :data:`LONG_LIVED_MAX_GEV`.
        band_medians: median over the points of each of :data:`MASS_BANDS_GEV` (NaN where
            none).
        fiducial_median: median of (ours in the nominal fiducial box) / theirs over the
            long-lived points (where a box's decays go as its volume).
        gas_median: the same with the nominal gas box.
    """

    n: int
    median: float
    low: float
    high: float
    long_lived_median: float
    fiducial_median: float
    gas_median: float
    band_medians: tuple[float, ...] = ()


def family_stats(rows: Iterable[RunComparison]) -> FamilyStats:
    """Summarise ours/theirs over ``rows`` (those with their yield > 0 and ours > 0)."""
    usable = [c for c in rows if c.theirs > 0 and c.ours > 0]

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else math.nan

    ratios = [c.ratio for c in usable]
    long_lived = [c for c in usable if c.mass_gev <= LONG_LIVED_MAX_GEV]
    return FamilyStats(
        n=len(usable), median=median(ratios),
        low=min(ratios, default=math.nan), high=max(ratios, default=math.nan),
        long_lived_median=median([c.ratio for c in long_lived]),
        fiducial_median=median([c.ours_fiducial / c.theirs for c in long_lived]),
        gas_median=median([c.ours_gas / c.theirs for c in long_lived]),
        band_medians=tuple(median([c.ratio for c in usable if lo <= c.mass_gev <= hi])
                           for lo, hi in MASS_BANDS_GEV))


def summary_markdown(rows: Sequence[RunComparison], *, n_events: int) -> str:
    """The per-family summary: median ours/theirs, its range, and the explanation."""
    lines = [
        "# Validation against the authors' runs",
        "",
        "ours / theirs per run family and beam: their yield (stats/STATS_NU*.csv of "
        "mingshauliu/Dipole-HNL-T2K@4782ab8) against ours in the run's configuration "
        f"(`published` preset, {n_events} upscatters per simulation), both as efficiency x "
        "decays with cos theta_N > 0.999 at their MC exposure, before BR. "
        "Mass bands: long-lived (yield ~ d^4), the rock bump, the turnover, the dense-gas "
        "bump. Fiducial / gas: the run's own box under each decay region, long-lived points "
        "(which region their yields call for).",
        "",
        "| family | beam | points | median | range | "
        + " | ".join(f"{lo * 1e3:g}-{hi * 1e3:g} MeV" for lo, hi in MASS_BANDS_GEV)
        + " | long-lived, fiducial box | long-lived, gas box |",
        "|---|---|---|---|---|" + "---|" * len(MASS_BANDS_GEV) + "---|---|",
    ]
    notes = []
    for family in FAMILIES:
        present = False
        for beam in config.BEAMS:
            chosen = [c for c in rows if c.run in family.runs and c.beam == beam]
            if not chosen:
                continue
            present = True
            s = family_stats(chosen)
            bands = " | ".join(_fmt(v) for v in s.band_medians)
            lines.append(f"| {family.name} | {beam.upper()} | {s.n} | {_fmt(s.median)} | "
                         f"{_fmt(s.low)}-{_fmt(s.high)} | {bands} | "
                         f"{_fmt(s.fiducial_median)} | {_fmt(s.gas_median)} |")
        if present:
            notes.append(f"- **{family.name}.** {family.explanation}")
    lines += ["", *notes, ""]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3g}"


__all__ = ["CSV_COLUMNS", "FAMILIES", "RUNS", "AuthorsYield", "BoxYield", "Family",
           "FamilyStats", "Run", "RunComparison", "box_yields", "compare_point",
           "comparisons_csv", "family_stats", "grid_point", "points_near_curve",
           "read_curve", "read_yields", "summary_markdown", "validate"]
