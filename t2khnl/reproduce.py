"""The paper's results from one command: scans, figures, headline numbers, HEPData.

:func:`reproduce` writes, per preset (``OUT/<preset>/`` when both run, else ``OUT/``), the
two mass scans (resumable, :mod:`t2khnl.scan`), their contours, Figs. 2, 3, 4 and Suppl.
Fig. 1 (PDF and PNG, :func:`write_figures`), ``headlines.json`` and ``summary.md``
(:func:`write_numbers`: every number beside the paper's) and the HEPData submission
(:func:`write_hepdata`). With both presets, ``OUT/walk/`` holds the published -> corrected
walk (:mod:`t2khnl.compare`), ``OUT/comparison.md`` its table and ``OUT/fig4_constraints``
the presets side by side. Every figure of a ``--quick`` run says so in its corner label
(:meth:`Settings.demo`).

Details: README "Reproduce the paper".
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from concurrent.futures import as_completed as futures_as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from . import compare, config, executors, figure_data, files, headlines, kaon_validation, scan
from .errors import InputError
from .flux import load_beam_flux
from .plots import constraints, decay_length, style, validation, vertices
from .scanrecords import ContourRecord
from .scanstore import Contour, ScanStore, read_contour

log = logging.getLogger(__name__)

#: Scan folder names of the two detectors.
SCAN_NAMES = {"nd280": "nd280_2019", "upgrade": "upgrade"}
#: Legend labels of the two contours in Fig. 4.
_LABELS = {"nd280": "ND280 2019, 95% CL", "upgrade": "T2K + T2K-II sensitivity, 95% CL"}


@dataclass(frozen=True)
class Settings:
    """How much work a reproduction does.

    Attributes:
        masses: scan masses (:func:`t2khnl.masses.parse_masses` specification) [GeV].
        n_events: upscatters per beam and mass in the scans (first attempt).
        precision: the scans' target relative MC error on the edges (None: one attempt).
        walk_masses: masses of the published -> corrected walk [GeV].
        walk_events: upscatters per beam and mass in the walk.
        vertex_masses: the three masses of Fig. 2 [GeV].
        vertex_events: upscatters per detector and mass for Fig. 2.
        quick: a coarse demonstration, which every figure states (:meth:`demo`).

    Fig. 3 draws the medians of the ND280 2019 scan's samples
    (:func:`t2khnl.figure_data.scan_medians`), at its masses.
    """

    masses: str
    n_events: int
    precision: float | None
    walk_masses: str
    walk_events: int
    vertex_masses: tuple[float, ...]
    vertex_events: int
    quick: bool = False

    def demo(self, scans: Sequence[Path] = ()) -> str | None:
        """The demo statement of a figure of a quick run (None for a full run).

        Args:
            scans: the scan folders a figure draws: its masses and the events per beam they
                used (more than the first attempt's where an edge needed them, as a range).
                None given: Fig. 2's own samples.
        """
        if not self.quick:
            return None
        if not scans:
            return style.demo_text(len(self.vertex_masses), self.vertex_events)
        records = [rec for folder in scans for rec in ScanStore(folder).records()]
        events = [int(rec["n_events"]) for rec in records]
        masses = {rec["mass_gev"] for rec in records}
        return style.demo_text(len(masses), min(events, default=0), max(events, default=0))


#: The full reproduction starts each mass with 2,500 upscatters per beam, half the scan
#: default: many masses then need one attempt more, which the strata's variances size and
#: place (:func:`t2khnl.allocation.next_attempt`), at less cost than the 2,500 equal-share
#: events it saves (measured: 8% less CPU on 11 masses, every edge within 3%).
FULL = Settings(masses="0.01:2.0:48log", n_events=2500,
                precision=scan.DEFAULT_PRECISION, walk_masses="0.05:1.0:6log",
                walk_events=10000, vertex_masses=(0.05, 0.2, 0.5), vertex_events=5000)
#: The demonstration: six masses placed on the shapes of Fig. 4 (the rock-fed branch at 20
#: and 50 MeV, the turnover at 120 MeV, the corrected preset's hole at 200 MeV, the published
#: preset's gas-fed bump and the MiniBooNE solution at 400 and 600 MeV), 2,500 upscatters
#: per beam to start with, rerun only where an edge has fewer than 50 effective MC events
#: (precision 1: no target on the quoted edges' errors), the walk at one mass. A mass costs
#: ~8 CPU-s whatever its events: ~6 CPU-min in all, about 3 min on 2 idle cores.
QUICK = Settings(masses="0.02,0.05,0.12,0.2,0.4,0.6", n_events=2500, precision=1.0,
                 walk_masses="0.5", walk_events=2000, vertex_masses=(0.05, 0.2, 0.5),
                 vertex_events=300, quick=True)
#: Couplings of Fig. 3 [GeV^-1].
FIG3_D_GRID_GEV_INV = np.geomspace(1e-8, 1e-4, 33)


class KaonAgreement(NamedTuple):
    """Suppl. Fig. 1's verdict as ``headlines.json`` states it (``kaon_validation``).

    Attributes:
        compared_with: what our limit is compared with (AFH's ND280 90% CL limit, like for
            like).
        median_ratio: median over the masses of our / AFH's limit on |U_muN|^2.
        min_ratio: the smallest such ratio.
        max_ratio: the largest such ratio.
        max_abs_log10: the largest |log10 ratio|.
        masses_mev: [lowest, highest] mass compared [MeV].
        analysis_assumptions_median_ratio: the median ratio with the analysis' assumptions
            at AFH's exposure instead of like for like.
        factors: the median ratio each of AFH's assumptions moves our limit by, by name
            (:attr:`t2khnl.kaon_validation.ValidationCurves.factors`).
    """

    compared_with: str
    median_ratio: float
    min_ratio: float
    max_ratio: float
    max_abs_log10: float
    masses_mev: list[float]
    analysis_assumptions_median_ratio: float
    factors: dict[str, float]


class HeadlineNumbers(NamedTuple):
    """What ``headlines.json`` holds for one preset (:func:`write_numbers`).

    Attributes:
        headlines: the headline numbers (:class:`t2khnl.headlines.Headlines`; units there).
        kaon_validation: the kaon validation's agreement with AFH.
    """

    headlines: headlines.Headlines
    kaon_validation: KaonAgreement

    def as_json(self) -> dict[str, Any]:
        """``headlines.json``'s document: the headlines' keys, then ``kaon_validation``."""
        return {**self.headlines.as_json(), "kaon_validation": self.kaon_validation._asdict()}


def reproduce(
    output_dir: str | os.PathLike[str],
    *,
    presets: tuple[str, ...] = config.PRESETS,
    quick: bool = False,
    workers: int = 1,
    seed: int = 1,
    data_dir: str | None = None,
    progress: bool = True,
    scheduler_file: str | os.PathLike[str] | None = None,
    announce: Callable[[str], object] | None = None,
) -> dict[str, HeadlineNumbers]:
    """Run everything for the given presets and write the artefacts (module docstring).

    All the simulation work (the scans of every preset and detector, the walk, the
    simulations of Fig. 2, the kaon validation) shares one pool of ``workers``
    processes (or the Dask cluster of ``scheduler_file``), and so do the figures, headline
    numbers and HEPData of each preset made from the results afterwards (:data:`STAGES`).
    Every argument is checked, and the cluster reached, before anything is written.

    Args:
        output_dir: the output folder (resumable: the scans continue where they stopped).
        presets: ``("corrected", "published")`` (default), or one of them.
        quick: a coarse demonstration (:data:`QUICK`) instead of :data:`FULL`.
        workers: local worker processes.
        seed: random seed.
        data_dir: input-data folder.
        progress: progress bars.
        scheduler_file: a Dask scheduler file: run on that cluster instead of ``workers``
            local processes (its workers must share the output folder's filesystem).
        announce: called with one line as each preset's final stage starts and as each
            of its parts (:data:`STAGES`) is written; default: the log (INFO).

    Returns:
        The headline numbers by preset.

    Raises:
        InputError: a bad argument or an unusable cluster.
        DataFileError: missing or corrupt input data.
    """
    say = announce or (lambda line: log.info("%s", line))
    for preset in presets:
        config.load(preset)
    if not (isinstance(workers, int) and workers >= 1):
        msg = f"--workers must be at least 1, got {workers!r}"
        raise InputError(msg)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"--seed must be a non-negative integer, got {seed!r}"
        raise InputError(msg)
    for beam in config.BEAMS:
        load_beam_flux(beam, data_dir)
    settings = QUICK if quick else FULL
    out = Path(output_dir)
    folders = {preset: out / preset if len(presets) > 1 else out for preset in presets}
    with contextlib.ExitStack() as stack:
        if scheduler_file is not None:
            client = executors.connect(None, scheduler_file=scheduler_file)
            stack.callback(client.close)
            pool: Executor = client.get_executor(pure=False)
        else:
            pool = stack.enter_context(executors.local_pool(workers) if workers > 1
                                       else executors.InProcess())
        walk = compare.jobs(out / "walk", settings.walk_masses, n_events=settings.walk_events,
                            seed=seed) if len(presets) > 1 else []
        scans = [scan.ScanJob(detector, settings.masses, folders[preset] / "scans" / name,
                              preset=preset, n_events=settings.n_events,
                              precision=settings.precision, seed=seed)
                 for preset in presets for detector, name in SCAN_NAMES.items()]
        samples = {preset: pool.submit(
            figure_data.simulate_vertex_samples, settings.vertex_masses,
            d_gev_inv=figure_data.D_FIG2_GEV_INV,
            n_events=settings.vertex_events, seed=seed, preset=preset, data_dir=data_dir)
            for preset in presets}
        kaon = pool.submit(kaon_validation.curves, data_dir=data_dir)
        scan.scan_many(walk + scans, data_dir=data_dir, workers=workers,
                       executor=pool if workers > 1 or scheduler_file else None,
                       progress=progress)
        say(f"scans done; figures, headline numbers and HEPData of {', '.join(presets)}"
            + (" and the walk's comparison" if walk else ""))
        steps = pool.submit(compare.results, walk, data_dir=data_dir) if walk else None
        results = _final_stages(pool, folders, {p: samples[p].result() for p in presets},
                                kaon.result(), data_dir=data_dir, settings=settings, say=say)
        walked = steps.result() if steps is not None else None
    if walked is not None:
        start = time.perf_counter()
        files.write_text(out / "comparison.md", comparison_markdown(walked, results))
        panels = {preset: _contours(out / preset)
                  for preset in sorted(presets, key=_PANEL_ORDER.index)}
        demo = settings.demo([Path(job.output_dir) for job in scans])
        fig = constraints.plot_presets(panels, data_dir=data_dir, demo=demo)
        style.save(fig, out / "fig4_constraints")
        style.close(fig)
        say(f"both presets: comparison.md and fig4_constraints written "
            f"({time.perf_counter() - start:.1f} s)")
    return results


#: The parts of a preset's final stage, in the order :func:`reproduce` announces them.
STAGES = ("figures", "headline numbers", "HEPData")


def _final_stages(pool: Executor, folders: dict[str, Path],
                  samples: dict[str, figure_data.VertexSamples],
                  kaon_curves: kaon_validation.ValidationCurves, *, data_dir: str | None,
                  settings: Settings, say: Callable[[str], object]
                  ) -> dict[str, HeadlineNumbers]:
    """Each preset's figures and headline numbers side by side on the pool, then its
    HEPData (which attaches Fig. 4); one line per part as it is written."""
    started = time.perf_counter()
    pending: dict[Future[Any], tuple[str, str]] = {}
    for preset, folder in folders.items():
        copy_contours(folder)
        pending[pool.submit(write_figures, folder, preset, samples[preset], kaon_curves,
                            data_dir=data_dir, settings=settings)] = (preset, "figures")
        pending[pool.submit(write_numbers, folder, preset, kaon_curves,
                            data_dir=data_dir)] = (preset, "headline numbers")
    results: dict[str, HeadlineNumbers] = {}
    while pending:
        done = next(futures_as_completed(pending))
        preset, stage = pending.pop(done)
        written = done.result()
        if stage == "headline numbers":
            results[preset] = written
            what = "headlines.json, summary.md"
        elif stage == "figures":
            what = ", ".join(written)
            pending[pool.submit(write_hepdata, folders[preset], preset)] = (preset, "HEPData")
        else:
            what = str(written)
        say(f"{preset}: {stage} written ({what}) after {time.perf_counter() - started:.1f} s")
    return {preset: results[preset] for preset in folders}


#: Order of the presets' panels in the side-by-side Fig. 4: the paper's setup, then ours.
_PANEL_ORDER = ("published", "corrected")


def _contours(folder: Path) -> dict[str, Contour]:
    """Fig. 4 legend label -> the contour of each detector copied into a preset's folder."""
    return {_LABELS[det]: read_contour(folder / f"contour_{name}.csv")
            for det, name in SCAN_NAMES.items()}


def _scans(folder: Path) -> dict[str, Path]:
    """The scan folder of each detector in a preset's folder."""
    return {detector: folder / "scans" / name for detector, name in SCAN_NAMES.items()}


def copy_contours(folder: Path) -> None:
    """Copy the two scans' contours (and their JSON twins, which hold the holes Fig. 4
    leaves open) into the preset's folder as ``contour_<scan>.{csv,json}``."""
    scans = _scans(folder)
    for detector, name in SCAN_NAMES.items():
        ScanStore(scans[detector]).copy_contour(folder / f"contour_{name}.csv")


def write_figures(
    folder: Path, preset: str, vertex_samples: figure_data.VertexSamples,
    kaon_curves: kaon_validation.ValidationCurves, *, data_dir: str | None,
    settings: Settings = FULL,
) -> list[str]:
    """Figs. 2, 3, 4 (with each detector's contour alone, for HEPData) and Suppl. Fig. 1
    of one preset from its finished scans, into ``folder`` (.pdf and .png).

    Args:
        folder: the preset's output folder (``scans/`` and the copied contours).
        preset: the preset.
        vertex_samples: the samples of Fig. 2
            (:func:`t2khnl.figure_data.simulate_vertex_samples`).
        kaon_curves: the kaon validation (:func:`t2khnl.kaon_validation.curves`).
        data_dir: input-data folder.
        settings: what the run did (a quick run's figures say they are a demo).

    Returns:
        The figures' stems.
    """
    scans = _scans(folder)
    simulated = figure_data.scan_medians(scans["nd280"], FIG3_D_GRID_GEV_INV)
    analytic = figure_data.analytic_map(FIG3_D_GRID_GEV_INV,
                                        mass_range_mev=constraints.MASS_RANGE_MEV,
                                        preset=preset, data_dir=data_dir)
    demo = settings.demo(list(scans.values()))
    contours = _contours(folder)
    figures = {
        "fig4_constraints": constraints.plot(contours, data_dir=data_dir, demo=demo,
                                             title=f"{preset} preset"),
        "fig2_vertices": vertices.plot(vertex_samples, demo=settings.demo()),
        "fig3_decay_length": decay_length.plot(simulated, analytic, preset=preset,
                                               demo=settings.demo([scans["nd280"]])),
        # computed in full even in a demonstration, which its label says
        "figS1_kaon_validation": validation.plot(
            kaon_curves, demo=settings.demo() and "demo run: this figure computed in full"),
    }
    # the HEPData tables' figures: each contour alone
    for (det, name), label in zip(SCAN_NAMES.items(), contours, strict=True):
        figures[f"fig4_{name}"] = constraints.plot(
            {label: contours[label]}, existing_limits=False, miniboone=False,
            demo=settings.demo([scans[det]]), title=f"{preset} preset")
    for stem, fig in figures.items():
        style.save(fig, folder / stem)
        style.close(fig)
    return list(figures)


def write_numbers(folder: Path, preset: str, kaon_curves: kaon_validation.ValidationCurves, *,
                  data_dir: str | None) -> HeadlineNumbers:
    """The headline numbers of one preset (``headlines.json``) and ``summary.md``.

    Args:
        folder: the preset's output folder.
        preset: the preset.
        kaon_curves: the kaon validation (:func:`t2khnl.kaon_validation.curves`).
        data_dir: input-data folder.

    Returns:
        The headline numbers.
    """
    scans = _scans(folder)
    kaon = kaon_curves.agreement
    numbers = HeadlineNumbers(
        headlines.headlines(scans, preset, data_dir=data_dir),
        KaonAgreement(
            compared_with="AFH's ND280 90% CL limit from their event-rate table (HNL-DIF "
                          "limits_computed/T2K_mag_mom_Umu4.dat, 2.3 events), like for like: "
                          "their efficiency, FHC kaon fluxes, 18.63e20 POT and decay volume",
            median_ratio=kaon.median_ratio, min_ratio=float(kaon.ratio.min()),
            max_ratio=float(kaon.ratio.max()), max_abs_log10=kaon.max_abs_log10,
            masses_mev=[float(kaon.mass_mev.min()), float(kaon.mass_mev.max())],
            analysis_assumptions_median_ratio=kaon_curves.analysis_agreement.median_ratio,
            factors={f.name: f.median_ratio for f in kaon_curves.factors}))
    files.write_text(folder / "headlines.json", json.dumps(numbers.as_json(), indent=2) + "\n")
    files.write_text(folder / "summary.md", summary_markdown(numbers, scans))
    return numbers


def write_hepdata(folder: Path, preset: str) -> Path:
    """The HEPData submission of one preset, ``folder/hepdata/`` (after its figures: it
    attaches Fig. 4). Returns the archive."""
    from . import hepdata

    scans = _scans(folder)
    # the scans' merged grid likelihoods (scan.write_grid_likelihood), not a second merge
    # of their per-mass patchsets
    likelihoods = {det: ScanStore(path).grid_likelihood(det) for det, path in scans.items()}
    return hepdata.write_submission(folder / "hepdata", scans, patchsets=likelihoods,
                                    preset=preset,
                                    figures={det: folder / f"fig4_{name}.png"
                                             for det, name in SCAN_NAMES.items()})


def _window(value: list[float] | None) -> str:
    return "none" if not value else f"{value[0]:.0f}-{value[1]:.0f}"


def _number(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def headline_rows(numbers: headlines.Headlines) -> list[tuple[str, str, str]]:
    """(quantity, our value, the paper's value) of every headline number."""
    paper = headlines.PAPER
    return [
        ("ND280 2019 world-leading window [MeV]",
         _window(numbers.nd280_world_leading_mev), _window(paper["nd280_world_leading_mev"])),
        ("T2K + T2K-II world-leading window [MeV]",
         _window(numbers.upgrade_world_leading_mev),
         _window(paper["upgrade_world_leading_mev"])),
        ("MiniBooNE solution disfavoured by ND280 2019 at CL",
         _number(numbers.minibooNE_nd280_cl, ".3g"), f"{paper['minibooNE_nd280_cl']:.2f}"),
        ("MiniBooNE solution excluded by T2K + T2K-II at [sigma]",
         _number(numbers.minibooNE_upgrade_sigma, ".3g"),
         f"{paper['minibooNE_upgrade_sigma']:g}"),
        ("bedrock turnover: lowest d_low of the rock branch [MeV]",
         _number(numbers.rock_turnover_mev, ".0f"), f"~{paper['rock_turnover_mev']:.0f}"),
        ("bedrock turnover: rock share of the signal below 1/2 [MeV]",
         _number(numbers.rock_crossover_mev, ".0f"), f"~{paper['rock_turnover_mev']:.0f}"),
    ]


def summary_markdown(numbers: HeadlineNumbers, scans: dict[str, Path]) -> str:
    """``summary.md``: the headline numbers beside the paper's, then both contours."""
    lines = [f"# Results, preset `{numbers.headlines.preset}`", "",
             "| quantity | this run | paper |", "|---|---|---|"]
    lines += [f"| {q} | {ours} | {theirs} |"
              for q, ours, theirs in headline_rows(numbers.headlines)]
    kaon = numbers.kaon_validation
    lines.append(
        f"| Suppl. Fig. 1: our / AFH ND280 90% CL limit on \\|U_muN\\|^2 like for like, "
        f"median (range) | {kaon.median_ratio:.3g} ({kaon.min_ratio:.3g}-"
        f"{kaon.max_ratio:.3g}) | agrees with AFH (no number) |")
    for detector, folder in scans.items():
        lines += ["", f"## Contour, {_LABELS[detector]}", "",
                  "| m_N [MeV] | d_low [GeV^-1] | d_high [GeV^-1] | not excluded in between "
                  "[GeV^-1] |", "|---|---|---|---|"]
        for rec in ScanStore(folder).records():
            lines.append(f"| {rec['mass_gev'] * 1e3:.4g} | {_edge(rec, 'd_low')} | "
                         f"{_edge(rec, 'd_high')} | {_holes(rec)} |")
    return "\n".join(lines) + "\n"


def _holes(rec: ContourRecord) -> str:
    """The couplings [GeV^-1] between a mass's excluded intervals, or "-"."""
    intervals = rec.get("intervals") or []
    return ", ".join(f"{a[1]:.3g}-{b[0]:.3g}" for a, b in itertools.pairwise(intervals)) or "-"


def _edge(rec: Mapping[str, Any], name: str) -> str:
    value = rec[name]
    refused = (rec.get("refused") or {}).get(name)
    if value is None:
        return f"not quoted ({refused})" if refused else "-"
    if rec.get(f"{name}_open"):
        return f">= {value:.3g} (grid end)" if name == "d_high" else f"<= {value:.3g} (grid end)"
    err = rec.get(f"{name}_err")
    return f"{value:.3g}" + ("" if err is None else f" ± {err:.2g}")


def comparison_markdown(walk: list[compare.StepResult],
                        results: dict[str, HeadlineNumbers]) -> str:
    """``comparison.md``: both presets' headline numbers, then the walk between them."""
    names = list(results)
    lines = ["# Published versus corrected", "",
             "| quantity | " + " | ".join(names) + " | paper |",
             "|---|" + "---|" * (len(names) + 1)]
    rows = {name: headline_rows(numbers.headlines) for name, numbers in results.items()}
    for i, (quantity, _, paper) in enumerate(rows[names[0]]):
        lines.append(f"| {quantity} | " + " | ".join(rows[n][i][1] for n in names)
                     + f" | {paper} |")
    lines += ["", "## The walk, one change at a time (ND280 2019 contour)", "",
              compare.markdown(walk)]
    return "\n".join(lines)
