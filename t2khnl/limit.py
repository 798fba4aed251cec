"""From simulated ntuples to the excluded d interval at one mass.

One SIREN sample per beam (:mod:`t2khnl.generate`; generated at ``D_REF_GEV_INV``, injected
far enough upstream for the smallest coupling scanned) is selected (:mod:`t2khnl.select`),
reweighted to every d of a log grid and turned into expected signal events per channel
(x the e+e- fraction of decays x efficiency x POT; :mod:`t2khnl.reweight`), and handed to
the detector's counting experiment (:mod:`t2khnl.experiment`), whose CLs(d) crossings of
0.05 give the two edges of the excluded interval. The step's path is docs/dataflow.md's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, NotRequired, TypedDict

import awkward as ak
import hist
import numpy as np

from . import config, counting, experiment, files, generate, ntuple, reweight, select, stats
from .config import Preset, Statistics
from .errors import DataFileError, InputError
from .samples import SampleMetadata

log = logging.getLogger(__name__)

#: Coupling [GeV^-1] the samples are generated at; any value serves every d (the decay
#: probabilities are recomputed per event), it only sets the stored ``weight`` column.
D_REF_GEV_INV = 1e-6
#: Fewest effective MC events behind a quoted edge.
MIN_N_EFF = 50.0


class Channel(NamedTuple):
    """One beam mode of the analysis.

    Attributes:
        name: ``"fhc"`` or ``"rhc"``.
        pot: exposure [POT].
        events: selected events (fields ``upscatter_weight``, ``t_in_m``, ...).
        efficiency: selection efficiency at this mass.
        background: expected background events.
        columns: the events' columns :func:`t2khnl.reweight.reweight` reads, as numpy
            arrays (converted once: the analysis reweights to ~200 couplings).
        strata_attempts: injection attempts per stratum (box, layer) of the simulation
            behind the events (``metadata["strata"]``); None when it records none.
        metadata: the selected ntuple's metadata (simulation, selection, efficiency).
    """

    name: str
    pot: float
    events: ak.Array
    efficiency: float
    background: float
    columns: dict[str, np.ndarray]
    strata_attempts: np.ndarray | None
    metadata: SampleMetadata


def _channel(name: str, pot: float, events: ak.Array, meta: SampleMetadata,
             background: float) -> Channel:
    """A :class:`Channel` of selected events and their ntuple metadata (``efficiency``,
    ``strata``): exposure [POT], background [events]."""
    columns = {key: ak.to_numpy(events[key]) for key in reweight.REQUIRED_COLUMNS}
    strata = meta.get("strata")
    attempts = None if strata is None else np.asarray(strata["attempts"], dtype=float)
    return Channel(name, pot, events, float(meta["efficiency"]), background, columns, attempts,
                   meta)


def load_channels(mass_dir: str | os.PathLike[str], summary: Mapping[str, Any]) -> list[Channel]:
    """The channels of a finished limit step, from its ``selected_{fhc,rhc}.root``.

    Args:
        mass_dir: the folder :func:`run` wrote.
        summary: its summary (``pot_fhc``, ``pot_rhc`` [POT], ``background``).

    Returns:
        One :class:`Channel` per beam, with the selection efficiency from the ntuple.

    Raises:
        DataFileError: a selected ntuple is missing or unreadable.
    """
    channels = []
    for beam in config.BEAMS:
        events, meta = ntuple.read(Path(mass_dir) / f"selected_{beam}.root")
        channels.append(_channel(beam, float(summary[f"pot_{beam}"]), events, meta,
                                 float(summary.get("background", {}).get(beam, 0.0))))
    return channels


def signal_function(
    channels: Sequence[Channel], mass_gev: float, cfg: Preset
) -> reweight.SignalModel:
    """Expected selected e+e- events per channel as a function of d [GeV^-1]: sum of the
    reweighted per-POT weights x the e+e- fraction x efficiency x POT (a self-contained
    :class:`t2khnl.reweight.SignalModel`)."""
    return reweight.SignalModel(
        columns={ch.name: ch.columns for ch in channels},
        factors={ch.name: (ch.efficiency, ch.pot) for ch in channels},
        mass_gev=mass_gev, br_ee_formula=cfg.br_ee_formula,
        width_convention=cfg.width_convention, **_reweighting(cfg),
    )


class _Reweighting(TypedDict):
    d_ref_gev_inv: float
    survival: bool
    window_lengths: float | None


def _reweighting(cfg: Preset) -> _Reweighting:
    """How the limit step's samples are reweighted under ``cfg``: from the coupling they
    were generated at [GeV^-1], with or without the survival factor, in which window."""
    return _Reweighting(d_ref_gev_inv=D_REF_GEV_INV, survival=cfg.survival_to_fiducial,
                        window_lengths=cfg.window_lengths)


def _weights(ch: Channel, d_gev_inv: float, cfg: Preset) -> np.ndarray:
    """Per-POT weights of a channel's selected events at d [GeV^-1]."""
    return reweight.reweight(ch.columns, d_gev_inv, **_reweighting(cfg))


def event_yields(channels: Sequence[Channel], d_gev_inv: float, cfg: Preset) -> np.ndarray:
    """Expected selected events (before the e+e- fraction) that each MC event stands for at d, all
    channels concatenated."""
    return np.concatenate(
        [_weights(ch, d_gev_inv, cfg) * ch.efficiency * ch.pot for ch in channels]
    )


def n_eff_at(channels: Sequence[Channel], d_gev_inv: float, cfg: Preset) -> float:
    """Kish effective number of MC events behind the total signal at d."""
    weights = event_yields(channels, d_gev_inv, cfg)
    return reweight.kish_n_eff(weights) if weights.size else 0.0


def histograms(channels: Sequence[Channel],
               weights: dict[str, np.ndarray]) -> dict[str, hist.Hist]:
    """E_ee and cos(theta_N) of the selected events, weighted to expected events."""
    out = {}
    for ch in channels:
        ev = ch.events
        e_ee = ak.to_numpy(ev["ep_e"] + ev["em_e"])
        cos_n = ak.to_numpy(ev["hnl_pz"] / np.sqrt(ev["hnl_px"] ** 2 + ev["hnl_py"] ** 2
                                                   + ev["hnl_pz"] ** 2))
        h_e = hist.Hist(hist.axis.Regular(40, 0, 4, name="e_ee", label=r"$E_{ee}$ [GeV]"),
                        storage=hist.storage.Weight())
        h_c = hist.Hist(hist.axis.Regular(40, 0.99, 1.0, name="cos_theta_n",
                                          label=r"$\cos\theta_N$"),
                        storage=hist.storage.Weight())
        h_e.fill(e_ee, weight=weights[ch.name])
        h_c.fill(cos_n, weight=weights[ch.name])
        out[f"{ch.name}_e_ee"] = h_e
        out[f"{ch.name}_cos_theta_n"] = h_c
    return out


class LimitSummary(TypedDict):
    """The JSON record of one mass's limit (``summary.json``); units in ``units`` and in
    the key names: couplings d [GeV^-1], exposures [POT], signals and backgrounds [events].
    """

    mass_gev: float
    detector: str
    preset: str
    cl: float
    d_low: float | None
    d_high: float | None
    d_low_open: bool
    d_high_open: bool
    edges: dict[str, float | None]
    intervals: list[list[float]]
    pot_fhc: float
    pot_rhc: float
    background: dict[str, float]
    statistics: dict[str, Any]
    analysis: str
    ee_fraction: float
    efficiency: dict[str, float]
    n_eff: dict[str, float | None]
    signal_at_d_low: dict[str, float] | None
    signal_at_d_high: dict[str, float] | None
    refused: dict[str, str | None]
    n_selected: dict[str, int]
    d_grid_gev_inv: list[float | int]
    units: dict[str, str]
    median_decay_length_m: NotRequired[dict[str, float | None]]


@dataclass(frozen=True)
class LimitOutcome:
    """Everything one mass's limit step made, in memory (:func:`run`); :func:`write` puts
    it on disk.

    Attributes:
        detector: ``"nd280"`` or ``"upgrade"``.
        mass_gev: HNL mass [GeV].
        preset: the preset the step ran (with the statistics it was given).
        summary: the JSON record of ``summary.json`` (edges [GeV^-1], signals [events],
            exposures [POT], ...).
        channels: one :class:`Channel` per beam (selected events and their metadata).
        cutflows: per beam, the cut-flow table (markdown).
        histograms: E_ee and cos(theta_N) per beam, weighted to expected events.
        workspace: the pyhf workspace at the lower edge.
        bkg_only: the background-only workspace of the patchset.
        patchset: one patch per coupling of the grid.
        signals: expected events per channel at each (mass [GeV], d [GeV^-1]) of the grid,
            computed once (the patchset's and HEPData's signals).
    """

    detector: str
    mass_gev: float
    preset: Preset
    summary: LimitSummary
    channels: tuple[Channel, ...]
    cutflows: dict[str, str]
    histograms: dict[str, hist.Hist]
    workspace: Any
    bkg_only: Any
    patchset: Any
    signals: dict[tuple[float, float], dict[str, float]]


def run(
    detector: str,
    mass_gev: float,
    *,
    preset: str | os.PathLike[str] | Preset = "corrected",
    n_events: int = 20000,
    pot_total: float | None = None,
    seed: int = 1,
    data_dir: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    t2k_backgrounds: bool | None = None,
    flux_xsec: float | None = None,
    allocation: dict[str, Any] | None = None,
    samples: dict[str, generate.Simulation] | None = None,
    progress: Callable[[int], object] | None = None,
    d_range: tuple[float, float] | None = None,
    cache: generate.SimulationCache | None = None,
) -> LimitOutcome:
    """Simulate, select, reweight and scan d at one mass.

    Args:
        detector: ``"nd280"`` (2019 data, observed 0 + 0) or ``"upgrade"`` (Asimov).
        mass_gev: HNL mass [GeV].
        preset: a :class:`~t2khnl.config.Preset`, or ``"corrected"``, ``"published"`` or a
            preset file (:func:`t2khnl.config.resolve`).
        n_events: upscatters injected per beam.
        pot_total: total exposure [POT] split FHC:RHC as in 2019 (default: the preset's).
        seed: random seed.
        data_dir: input-data folder.
        output_dir: when given, the outcome is also written there (:func:`write`).
        t2k_backgrounds: use the T2K 2019 backgrounds (default: the preset's choice;
            the upgrade always scales them).
        flux_xsec: relative normsys on the signal (default: the preset's, none).
        allocation: per beam, the shares of ``n_events`` per injection stratum (see
            :func:`t2khnl.allocation.neyman_shares`); default equal.
        samples: per beam, an earlier simulation of this mass (other seed) to pool the new
            events with (:func:`t2khnl.generate.pool`): the analysis then runs on both.
            Updated in place to the simulation analysed, so a rerun can pool with it.
        progress: progress callback of the injection.
        d_range: the range [GeV^-1] of the scanned couplings
            (:func:`t2khnl.couplings.d_grid`; default
            :data:`t2khnl.couplings.D_RANGE_GEV_INV`); the samples are injected far enough
            upstream for its lower end.
        cache: cross sections and samples to reuse (:class:`t2khnl.generate.SimulationCache`;
            default: a new one for the two beams of this call).

    Every argument is checked before anything is simulated or written.

    Returns:
        The :class:`LimitOutcome`.

    Raises:
        InputError: a bad argument, or a mass either beam's flux cannot produce.
        DataFileError: missing or corrupt input data.
    """
    cfg = config.resolve(preset)
    statistics = cfg.statistics
    if t2k_backgrounds is not None:
        statistics = dataclasses.replace(statistics, t2k_backgrounds=t2k_backgrounds)
    if flux_xsec is not None:
        if flux_xsec and not 0.0 < flux_xsec < 1.0:
            msg = f"--flux-xsec must be a relative uncertainty in (0, 1), or 0, got {flux_xsec}"
            raise InputError(msg)
        statistics = dataclasses.replace(statistics, flux_xsec=flux_xsec or None)
    cfg = dataclasses.replace(cfg, statistics=statistics)
    counts = experiment.build(detector, cfg, pot_total=pot_total, d_range=d_range)
    d_min = float(counts.d_grid_gev_inv[0])
    for beam in config.BEAMS:
        generate.check_inputs(detector, beam, mass_gev, D_REF_GEV_INV, n_events=n_events,
                              seed=seed, preset=cfg, data_dir=data_dir, d_min_gev_inv=d_min)
    selection = select.load(cfg.selection_for(detector))
    cache = generate.SimulationCache() if cache is None else cache

    channels, cutflows, medians = [], {}, {}
    for beam in config.BEAMS:
        sim = generate.simulate(
            detector, beam, mass_gev, D_REF_GEV_INV, n_events=n_events, seed=seed,
            preset=cfg, data_dir=data_dir, d_min_gev_inv=d_min,
            allocation=(allocation or {}).get(beam), progress=progress, cache=cache,
        )
        if samples is not None:
            if beam in samples:
                sim = generate.pool(samples[beam], sim)
            samples[beam] = sim
        medians[beam] = reweight.median_decay_length_m(sim.events)
        chosen = select.apply(sim.events, sim.metadata, selection, data_dir=data_dir)
        meta: SampleMetadata = {**sim.metadata, "selection": selection.name,
                                "n_events": len(chosen.events), "efficiency": chosen.efficiency}
        cutflows[beam] = select.cutflow_table(chosen.cutflow, pot=counts.pot[beam])
        channels.append(_channel(beam, counts.pot[beam], chosen.events, meta,
                                 counts.background[beam]))

    signal = signal_function(channels, mass_gev, cfg).on_grid(counts.d_grid_gev_inv)
    result = counts.excluded_interval(signal)
    summary = _summary(mass_gev, cfg, counts, channels, signal, result)
    summary["median_decay_length_m"] = {"d_gev_inv": D_REF_GEV_INV, **medians}
    weights = {ch.name: ak.to_numpy(ch.events["weight"]) * signal.ee_fraction * ch.efficiency
               * ch.pot for ch in channels}
    workspace = counts.workspace(signal(summary["d_low"] or D_REF_GEV_INV))
    signals = {(mass_gev, float(d)): signal(float(d))
               for d in counts.d_grid_gev_inv}  # computed once
    bkg_only, patchset = counts.patchset(signals)
    outcome = LimitOutcome(detector, mass_gev, cfg, summary, tuple(channels), cutflows,
                           histograms(channels, weights), workspace, bkg_only, patchset, signals)
    if output_dir is not None:
        write(outcome, output_dir)
    return outcome


def write(outcome: LimitOutcome, output_dir: str | os.PathLike[str]) -> Path:
    """Write a limit step's artefacts: ``selected_{fhc,rhc}.root``, ``cutflow_{beam}.md``,
    ``histograms.root``, ``workspace_<det>.json``, ``bkgonly_<det>.json``,
    ``patchset_<det>.json`` and ``summary.json`` (each atomically).

    Returns:
        The folder.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    for ch in outcome.channels:
        ntuple.write(out / f"selected_{ch.name}.root", ch.events, ch.metadata)
        files.write_text(out / f"cutflow_{ch.name}.md", outcome.cutflows[ch.name] + "\n")
    files.write_root(out / "histograms.root", outcome.histograms)
    detector = outcome.detector
    files.write_text(out / f"workspace_{detector}.json",
                     counting.workspace_json(outcome.workspace) + "\n")
    files.write_text(out / f"bkgonly_{detector}.json",
                     counting.workspace_json(outcome.bkg_only) + "\n")
    files.write_text(out / f"patchset_{detector}.json",
                     counting.patchset_json(outcome.patchset) + "\n")
    files.write_text(out / "summary.json", json.dumps(outcome.summary, indent=2) + "\n")
    return out


def _edge(
    value: float | None, channels: Sequence[Channel],
    signal: Callable[[float], dict[str, float]], cfg: Preset,
) -> _Edge:
    """An edge of the interval with its signal per channel and n_eff; refused if n_eff < 50."""
    if value is None:
        return _Edge(None, None, None, None)
    n_eff = n_eff_at(channels, value, cfg)
    refused = None
    if n_eff < MIN_N_EFF:
        refused = f"n_eff = {n_eff:.1f} < {MIN_N_EFF:g} effective MC events at d = {value:.3g}"
        log.warning("not quoting the edge at d = %.3g GeV^-1: %s", value, refused)
    return _Edge(None if refused else value, signal(value), n_eff, refused)


class _Edge(NamedTuple):
    d: float | None
    signal: dict[str, float] | None
    n_eff: float | None
    refused: str | None


def _summary(
    mass_gev: float, cfg: Preset, counts: experiment.Experiment, channels: Sequence[Channel],
    signal: reweight.SignalModel, result: stats.LimitResult,
) -> LimitSummary:
    low = _edge(result.d_low, channels, signal, cfg)
    high = _edge(result.d_high, channels, signal, cfg)
    return {
        "mass_gev": mass_gev,
        "detector": counts.detector,
        "preset": cfg.name,
        "cl": result.cl,
        "d_low": low.d,
        "d_high": high.d,
        "d_low_open": result.low_open,
        "d_high_open": result.high_open,
        "edges": {"d_low": result.d_low, "d_high": result.d_high},
        "intervals": [[float(lo), float(hi)] for lo, hi in result.intervals],
        "pot_fhc": counts.pot["fhc"],
        "pot_rhc": counts.pot["rhc"],
        "background": counts.background,
        "statistics": dataclasses.asdict(counts.statistics),
        "analysis": "observed 0 + 0 events (T2K 2019)" if counts.detector == "nd280"
        else "Asimov background-only expected",
        "ee_fraction": signal.ee_fraction,
        "efficiency": {ch.name: ch.efficiency for ch in channels},
        "n_eff": {"d_low": low.n_eff, "d_high": high.n_eff},
        "signal_at_d_low": low.signal,
        "signal_at_d_high": high.signal,
        "refused": {"d_low": low.refused, "d_high": high.refused},
        "n_selected": {ch.name: len(ch.events) for ch in channels},
        "d_grid_gev_inv": [float(result.d_grid[0]), float(result.d_grid[-1]),
                           len(result.d_grid)],
        "units": {"d": "GeV^-1 (mu_tr = 2 d)", "pot": "POT", "signal": "events"},
    }


def read(output_dir: str | os.PathLike[str], preset: str | Preset) -> LimitOutcome:
    """The :class:`LimitOutcome` a finished limit step wrote (:func:`write`).

    Args:
        output_dir: the folder.
        preset: the preset it ran (the summary names it only).

    Raises:
        DataFileError: a missing or unreadable file.
    """
    import pyhf
    import uproot

    out = Path(output_dir)
    summary = _read_json(out / "summary.json")
    detector = summary["detector"]
    cfg = dataclasses.replace(config.resolve(preset),
                              statistics=Statistics(**summary["statistics"]))
    with uproot.open(out / "histograms.root") as file:
        hists = {key.split(";")[0]: file[key].to_hist() for key in file.keys(cycle=False)}
    return LimitOutcome(
        detector, float(summary["mass_gev"]), cfg, summary,
        tuple(load_channels(out, summary)),
        {beam: (out / f"cutflow_{beam}.md").read_text().removesuffix("\n")
         for beam in config.BEAMS},
        hists, _read_json(out / f"workspace_{detector}.json"),
        _read_json(out / f"bkgonly_{detector}.json"),
        pyhf.patchset.PatchSet(_read_json(out / f"patchset_{detector}.json")), {},
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        msg = f"cannot read {path}: {err}"
        raise DataFileError(msg) from err
