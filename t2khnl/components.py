"""What each production process adds to a limit step: signal and excluded interval with the
processes switched on one after another, from one simulated sample.

A limit folder of a preset with every process (``corrected``) holds selected events
labelled by upscattering channel (branch ``channel``), incoming neutrino (``nu_pdg``) and
Pauli factor (``pauli_factor``). Each event's channel and neutrino were drawn with their
share of the cross section and flux at its energy (:mod:`t2khnl.nucleons`,
:func:`t2khnl.generate.generate_events`), so the events of a subset of processes are an
unbiased sample of that subset alone: switching a process off is dropping its events,
and free nucleons are the Pauli-weighted ones with the factor divided out. The statistics
(CLs, grid) are the preset's, as in :func:`t2khnl.limit.run`.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import awkward as ak
import numpy as np

from . import config, experiment, limit
from .errors import InputError
from .flux import BEAMS
from .nucleons import CHANNEL_CODES

__all__ = ["STAGES", "Stage", "StageResult", "stages"]


class Stage(NamedTuple):
    """A set of processes.

    Attributes:
        name: what it adds to the previous stage.
        channels: upscattering channels kept.
        pauli_blocking: keep the Pauli factor (False: free nucleons).
        wrong_sign: keep the beams' wrong-sign neutrinos.
    """

    name: str
    channels: tuple[str, ...]
    pauli_blocking: bool
    wrong_sign: bool


#: The processes switched on one after another, ending at all of them.
STAGES = (
    Stage("coherent", ("coherent",), True, False),
    Stage("+ p-el (free protons)", ("coherent", "p-el"), False, False),
    Stage("+ Pauli blocking", ("coherent", "p-el"), True, False),
    Stage("+ n-el (bound neutrons)", ("coherent", "p-el", "n-el"), True, False),
    Stage("+ wrong-sign neutrinos", ("coherent", "p-el", "n-el"), True, True),
)


class StageResult(NamedTuple):
    """One stage's signal and interval.

    Attributes:
        stage: the processes.
        signal: expected selected e+e- events per beam at the reference coupling.
        d_low: lower edge of the excluded interval [GeV^-1] (None: nothing excluded).
        d_high: upper edge [GeV^-1] (None: nothing excluded).
    """

    stage: Stage
    signal: dict[str, float]
    d_low: float | None
    d_high: float | None


def _subset(ch: limit.Channel, stage: Stage) -> limit.Channel:
    """The channel's events of the stage's processes, its weights free or blocked."""
    ev = ch.events
    keep = np.isin(ak.to_numpy(ev["channel"]), [CHANNEL_CODES[c] for c in stage.channels])
    if not stage.wrong_sign:
        keep &= ak.to_numpy(ev["nu_pdg"]) == BEAMS[ch.name].pdg
    columns = {name: values[keep] for name, values in ch.columns.items()}
    if not stage.pauli_blocking:
        columns["upscatter_weight"] = (columns["upscatter_weight"]
                                       / ak.to_numpy(ev["pauli_factor"])[keep])
    return ch._replace(events=ev[keep], columns=columns)


def stages(mass_dir: str | os.PathLike[str], summary: dict[str, Any], *,
           preset: str = "corrected", d_gev_inv: float | None = None,
           each: tuple[Stage, ...] = STAGES) -> list[StageResult]:
    """Signal and excluded interval of each stage, from a finished limit step.

    Args:
        mass_dir: the folder :func:`t2khnl.limit.run` wrote, of a preset with every
            process of the stages (channels coherent, p-el and n-el, Pauli blocking and the
            wrong-sign component).
        summary: its summary.
        preset: the preset it ran (name or file).
        d_gev_inv: coupling [GeV^-1] at which the signals are given (default: the
            summary's lower edge, else the simulation's coupling).
        each: the stages.

    Returns:
        One result per stage, in order.

    Raises:
        InputError: the folder's preset lacks a process the stages need.
    """
    cfg = config.resolve(preset)
    needed = {c for st in each for c in st.channels}
    if not (needed <= set(cfg.channels) and cfg.pauli_blocking
            and cfg.wrong_sign_component):
        msg = (f"preset {preset!r} lacks a process of the stages: it needs channels "
               f"{sorted(needed)}, Pauli blocking and the wrong-sign component")
        raise InputError(msg)
    channels = limit.load_channels(mass_dir, summary)
    d_ref = d_gev_inv or summary["d_low"] or limit.D_REF_GEV_INV
    counts = experiment.from_summary(summary, cfg)  # on the grid the limit step scanned
    out = []
    for stage in each:
        subset = [_subset(ch, stage) for ch in channels]
        signal = limit.signal_function(subset, summary["mass_gev"], cfg)
        result = counts.excluded_interval(signal)
        out.append(StageResult(stage, signal(d_ref), result.d_low, result.d_high))
    return out
