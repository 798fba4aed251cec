"""From simulated ntuples to the excluded d interval at one mass.

One SIREN sample per beam (generated at ``D_REF_GEV_INV``, injected far enough upstream for
the smallest coupling scanned) is selected, reweighted to every d of a log grid
(:mod:`t2khnl.reweight`), turned into expected signal events per channel (x BR(ee) x
efficiency x POT) and handed to pyhf (:mod:`t2khnl.stats`), whose CLs(d) crossings of
0.05 give the two edges of the excluded interval.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import awkward as ak
import hist
import numpy as np

from . import config, counting, files, generate, model, ntuple, reweight, select, stats, t2k2019
from .couplings import d_grid
from .errors import InputError

log = logging.getLogger(__name__)

#: Coupling [GeV^-1] the samples are generated at; any value serves every d (the decay
#: probabilities are recomputed per event), it only sets the stored ``weight`` column.
D_REF_GEV_INV = 1e-6
#: Fewest effective MC events behind a quoted edge.
MIN_N_EFF = 50.0
#: INSPIRE reference pyhf's patchset schema requires; a placeholder ("ins" + 7 digits) until
#: the record of arXiv:2412.15051 is known, to be replaced on a HEPData submission.
HEPDATA_PLACEHOLDER = "ins0000000"


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
    """

    name: str
    pot: float
    events: ak.Array
    efficiency: float
    background: float
    columns: dict[str, np.ndarray]
    strata_attempts: np.ndarray | None


def _channel(name: str, pot: float, events: ak.Array, meta: dict[str, Any],
             background: float) -> Channel:
    """A :class:`Channel` of selected events and their ntuple metadata (``efficiency``,
    ``strata``): exposure [POT], background [events]."""
    columns = {key: ak.to_numpy(events[key]) for key in reweight.REQUIRED_COLUMNS}
    strata = meta.get("strata")
    attempts = None if strata is None else np.asarray(strata["attempts"], dtype=float)
    return Channel(name, pot, events, float(meta["efficiency"]), background, columns, attempts)


def exposures(detector: str, cfg: dict[str, Any], pot_total: float | None) -> dict[str, float]:
    """POT per beam: the preset's nominal exposure, or ``pot_total`` split FHC:RHC as in 2019.

    Raises:
        InputError: ``pot_total`` is not positive.
    """
    if pot_total is None:
        return dict(cfg["exposure_pot"][detector])
    if not pot_total > 0:
        msg = f"--pot must be positive, got {pot_total}"
        raise InputError(msg)
    return t2k2019.pot_split(pot_total)


def backgrounds(detector: str, pot: dict[str, float], enabled: bool) -> dict[str, float]:
    """Expected backgrounds (:func:`t2khnl.counting.t2k_backgrounds`; ``enabled`` is ND280's
    flag: the upgrade always has them)."""
    return counting.t2k_backgrounds(detector, pot, nd280_backgrounds=enabled)


def load_channels(mass_dir: str | os.PathLike[str], summary: dict[str, Any]) -> list[Channel]:
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
    channels: list[Channel], mass_gev: float, cfg: dict[str, Any]
) -> Callable[[float], dict[str, float]]:
    """Expected selected e+e- events per channel as a function of d [GeV^-1]."""
    br = float(model.br_ee(mass_gev, formula=cfg["br_ee_formula"]))

    def signal(d_gev_inv: float) -> dict[str, float]:
        return {
            ch.name: float(_weights(ch, d_gev_inv, cfg).sum()) * br * ch.efficiency * ch.pot
            for ch in channels
        }

    return signal


def _weights(ch: Channel, d_gev_inv: float, cfg: dict[str, Any]) -> np.ndarray:
    """Per-POT weights of a channel's selected events at d [GeV^-1]."""
    return reweight.reweight(
        ch.columns, d_gev_inv, d_ref_gev_inv=D_REF_GEV_INV,
        survival=cfg["survival_to_fiducial"], window_lengths=generate.window_lengths(cfg),
    )


def event_yields(channels: list[Channel], d_gev_inv: float, cfg: dict[str, Any]) -> np.ndarray:
    """Expected selected events (before BR(ee)) that each MC event stands for at d, all
    channels concatenated."""
    return np.concatenate(
        [_weights(ch, d_gev_inv, cfg) * ch.efficiency * ch.pot for ch in channels]
    )


def n_eff_at(channels: list[Channel], d_gev_inv: float, cfg: dict[str, Any]) -> float:
    """Kish effective number of MC events behind the total signal at d."""
    weights = event_yields(channels, d_gev_inv, cfg)
    return reweight.kish_n_eff(weights) if weights.size else 0.0


def cls_function(
    detector: str, cfg: dict[str, Any], background: dict[str, float]
) -> Callable[[dict[str, float]], float]:
    """CLs of a signal: observed 0 events (ND280 2019) or Asimov expected (upgrade)."""
    statistics = cfg["statistics"]
    if detector == "nd280":
        return stats.make_cls_fn(
            background=background, observed=dict.fromkeys(background, 0.0),
            flux_xsec=statistics["flux_xsec"], calctype=statistics["calctype"],
        )
    calctype = "asymptotics_clsb" if statistics["calctype"] == "asymptotics_clsb" else (
        "asymptotics")
    return stats.make_cls_fn(background=background, flux_xsec=statistics["flux_xsec"],
                             calctype=calctype, expected=True)


def median_decay_length_m(events: ak.Array) -> float | None:
    """Median lab decay length [m] at ``D_REF_GEV_INV`` of the upscatters a simulation
    keeps (HNL lines through a fiducial box), weighted per POT (``upscatter_weight``); it
    scales as d^-2 (Fig. 3, :func:`t2khnl.plots.decay_length.medians_from_scan`). None
    without events."""
    if not (len(events) and np.sum(ak.to_numpy(events["upscatter_weight"])) > 0):
        return None
    return reweight.median_decay_length_m(events)


def histograms(channels: list[Channel], weights: dict[str, np.ndarray]) -> dict[str, hist.Hist]:
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


def run(
    detector: str,
    mass_gev: float,
    *,
    preset: str = "corrected",
    n_events: int = 20000,
    pot_total: float | None = None,
    seed: int = 1,
    data_dir: str | None = None,
    output_dir: str | os.PathLike[str],
    t2k_backgrounds: bool | None = None,
    flux_xsec: float | None = None,
    allocation: dict[str, Any] | None = None,
    samples: dict[str, generate.Simulation] | None = None,
    progress: Callable[[int], object] | None = None,
    d_range: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Simulate, select, reweight and scan d at one mass; write every artefact.

    Args:
        detector: ``"nd280"`` (2019 data, observed 0 + 0) or ``"upgrade"`` (Asimov).
        mass_gev: HNL mass [GeV].
        preset: ``"corrected"`` or ``"published"``.
        n_events: upscatters injected per beam.
        pot_total: total exposure [POT] split FHC:RHC as in 2019 (default: the preset's).
        seed: random seed.
        data_dir: input-data folder.
        output_dir: where the ntuples, histograms, workspace and summary go.
        t2k_backgrounds: use the T2K 2019 backgrounds (default: the preset's choice;
            the upgrade always scales them).
        flux_xsec: relative normsys on the signal (default: the preset's, none).
        allocation: per beam, the shares of ``n_events`` per injection stratum (see
            :func:`t2khnl.allocation.neyman_shares`); default equal.
        samples: per beam, an earlier simulation of this mass (other seed) to pool the new
            events with (:func:`t2khnl.generate.pool`): the analysis then runs on both.
            Updated in place to the simulation analysed, so a rerun can pool with it.
        progress: progress callback of the injection.
        d_range: the range [GeV^-1] of the scanned couplings (:func:`d_grid`; default
            :data:`D_RANGE_GEV_INV`); the samples are injected far enough upstream for its
            lower end.

    Every argument is checked before anything is written (the output folder included).

    Returns:
        The summary (also written to ``summary.json``).

    Raises:
        InputError: a bad argument, or a mass either beam's flux cannot produce.
        DataFileError: missing or corrupt input data.
    """
    config.check_choice("detector", detector, config.DETECTORS)
    cfg = config.load(preset)
    statistics = dict(cfg["statistics"])
    if t2k_backgrounds is not None:
        statistics["t2k_backgrounds"] = t2k_backgrounds
    if flux_xsec is not None:
        if flux_xsec and not 0.0 < flux_xsec < 1.0:
            msg = f"--flux-xsec must be a relative uncertainty in (0, 1), or 0, got {flux_xsec}"
            raise InputError(msg)
        statistics["flux_xsec"] = flux_xsec or None
    cfg = {**cfg, "statistics": statistics}
    grid = d_grid(d_range)
    for beam in config.BEAMS:
        generate.check_inputs(detector, beam, mass_gev, D_REF_GEV_INV, n_events=n_events,
                              seed=seed, preset=preset, data_dir=data_dir,
                              d_min_gev_inv=float(grid[0]))
    pot = exposures(detector, cfg, pot_total)
    background = backgrounds(detector, pot, statistics["t2k_backgrounds"])
    selection = select.load(cfg["selection"][detector])
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    channels, cutflows, medians = [], {}, {}
    for beam in config.BEAMS:
        sim = generate.simulate(
            detector, beam, mass_gev, D_REF_GEV_INV, n_events=n_events, seed=seed,
            preset=preset, data_dir=data_dir, d_min_gev_inv=float(grid[0]),
            allocation=(allocation or {}).get(beam), progress=progress,
        )
        if samples is not None:
            if beam in samples:
                sim = generate.pool(samples[beam], sim)
            samples[beam] = sim
        medians[beam] = median_decay_length_m(sim.events)
        chosen = select.apply(sim.events, sim.metadata, selection, data_dir=data_dir)
        meta = {**sim.metadata, "selection": selection.name, "n_events": len(chosen.events),
                "efficiency": chosen.efficiency}
        ntuple.write(out / f"selected_{beam}.root", chosen.events, meta)
        cutflows[beam] = select.cutflow_table(chosen.cutflow, pot=pot[beam])
        files.write_text(out / f"cutflow_{beam}.md", cutflows[beam] + "\n")
        channels.append(_channel(beam, pot[beam], chosen.events, meta, background[beam]))

    signal = signal_function(channels, mass_gev, cfg)
    result = stats.limit_interval(signal, grid, cls_function(detector, cfg, background))
    summary = _summary(detector, mass_gev, cfg, pot, background, channels, signal, result)
    summary["median_decay_length_m"] = {"d_gev_inv": D_REF_GEV_INV, **medians}
    br = float(model.br_ee(mass_gev, formula=cfg["br_ee_formula"]))
    weights = {ch.name: ak.to_numpy(ch.events["weight"]) * br * ch.efficiency * ch.pot
               for ch in channels}
    files.write_root(out / "histograms.root", histograms(channels, weights))
    d_ws = summary["d_low"] or D_REF_GEV_INV
    workspace = counting.build_workspace(signal(d_ws), background=background,
                                      observed=dict.fromkeys(background, 0.0),
                                      flux_xsec=statistics["flux_xsec"])
    files.write_text(out / f"workspace_{detector}.json", counting.workspace_json(workspace) + "\n")
    bkg_only, patchset = counting.build_patchset(
        {(mass_gev, float(d)): signal(float(d)) for d in grid},
        hepdata=HEPDATA_PLACEHOLDER, background=background,
        observed=dict.fromkeys(background, 0.0), flux_xsec=statistics["flux_xsec"],
    )
    files.write_text(out / f"bkgonly_{detector}.json", counting.workspace_json(bkg_only) + "\n")
    files.write_text(out / f"patchset_{detector}.json", counting.patchset_json(patchset) + "\n")
    files.write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def _edge(
    value: float | None, channels: list[Channel], signal: Callable[[float], dict[str, float]],
    cfg: dict[str, Any],
) -> dict[str, Any]:
    """An edge of the interval with its signal per channel and n_eff; refused if n_eff < 50."""
    if value is None:
        return {"d": None, "signal": None, "n_eff": None, "refused": None}
    n_eff = n_eff_at(channels, value, cfg)
    refused = None
    if n_eff < MIN_N_EFF:
        refused = f"n_eff = {n_eff:.1f} < {MIN_N_EFF:g} effective MC events at d = {value:.3g}"
        log.warning("not quoting the edge at d = %.3g GeV^-1: %s", value, refused)
    return {"d": None if refused else value, "signal": signal(value), "n_eff": n_eff,
            "refused": refused}


def _summary(
    detector: str, mass_gev: float, cfg: dict[str, Any], pot: dict[str, float],
    background: dict[str, float], channels: list[Channel],
    signal: Callable[[float], dict[str, float]], result: stats.LimitResult,
) -> dict[str, Any]:
    low = _edge(result.d_low, channels, signal, cfg)
    high = _edge(result.d_high, channels, signal, cfg)
    return {
        "mass_gev": mass_gev,
        "detector": detector,
        "preset": cfg["name"],
        "cl": result.cl,
        "d_low": low["d"],
        "d_high": high["d"],
        "d_low_open": result.low_open,
        "d_high_open": result.high_open,
        "edges": {"d_low": result.d_low, "d_high": result.d_high},
        "intervals": [[float(lo), float(hi)] for lo, hi in result.intervals],
        "pot_fhc": pot["fhc"],
        "pot_rhc": pot["rhc"],
        "background": background,
        "statistics": cfg["statistics"],
        "analysis": "observed 0 + 0 events (T2K 2019)" if detector == "nd280"
        else "Asimov background-only expected",
        "br_ee": float(model.br_ee(mass_gev, formula=cfg["br_ee_formula"])),
        "efficiency": {ch.name: ch.efficiency for ch in channels},
        "n_eff": {"d_low": low["n_eff"], "d_high": high["n_eff"]},
        "signal_at_d_low": low["signal"],
        "signal_at_d_high": high["signal"],
        "refused": {"d_low": low["refused"], "d_high": high["refused"]},
        "n_selected": {ch.name: len(ch.events) for ch in channels},
        "d_grid_gev_inv": [float(result.d_grid[0]), float(result.d_grid[-1]),
                           len(result.d_grid)],
        "mu_tr_low": None if low["d"] is None else float(model.mu_tr_from_d(low["d"])),
        "mu_tr_high": None if high["d"] is None else float(model.mu_tr_from_d(high["d"])),
        "units": {"d": "GeV^-1", "pot": "POT", "signal": "events"},
    }
