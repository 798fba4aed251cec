"""Where a mass's next injection attempts go: Neyman allocation over the injection strata.

The generator injects upscatters in strata (fiducial box x layer of distance in front of
it, :func:`t2khnl.generate.generate_events`); each stratum's weights are normalised by its
own attempts, so any allocation that samples every stratum is unbiased. Equal shares waste
attempts: at 0.13 GeV the lower edge of the ND280 limit comes from the rock, 4-280 m
upstream, the upper edge from the box itself. After a first attempt at a mass, the MC
error of the signal at an edge d is sqrt(sum_h n_h E_h[y^2] / n_h^2) with n_h the attempts
in stratum h and y its per-attempt yield at d; for a fixed total it is smallest for
n_h proportional to s_h = sqrt(E_h[y^2]) (Neyman). With several edges, each stratum gets
the largest of its shares s_h / sum_h s_h over the edges, and at least
:data:`FLOOR` / (number of strata), so that every stratum stays sampled for the other
couplings of the grid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from . import config, limit, ntuple

#: Smallest share of a stratum, as a fraction of an equal share.
FLOOR = 0.2


def neyman_shares(mass_dir: str | os.PathLike[str], summary: dict[str, Any],
                  preset: str) -> dict[str, list[list[float]]] | None:
    """Shares of the next attempt's events per beam and stratum (box, layer).

    Args:
        mass_dir: folder of a finished :func:`t2khnl.limit.run` (``selected_{beam}.root``
            with the ``fv_index`` and ``layer`` branches and ``metadata["strata"]``).
        summary: its summary (``edges``: the interval's edges [GeV^-1] before any was
            refused; ``d_low_open``/``d_high_open``; ``pot_fhc``/``pot_rhc``).
        preset: the preset of the run.

    Returns:
        ``{beam: shares}`` with shares of shape (boxes, layers) summing to 1, or None when
        nothing is excluded inside the grid or the ntuples carry no strata.
    """
    edges = [d for name, d in (summary.get("edges") or {}).items()
             if d is not None and not summary.get(f"{name}_open")]
    if not edges:
        return None
    cfg = config.load(preset)
    channels = limit.load_channels(mass_dir, summary)
    attempts = {}
    for ch in channels:
        _, meta = ntuple.read(Path(mass_dir) / f"selected_{ch.name}.root")
        if "strata" not in meta or "layer" not in ch.events.fields:
            return None
        attempts[ch.name] = np.asarray(meta["strata"]["attempts"], dtype=float)
    need = {ch.name: np.zeros_like(attempts[ch.name]) for ch in channels}
    for d in edges:
        yields = {ch.name: limit.event_yields([ch], d, cfg) for ch in channels}
        total = sum(float(y.sum()) for y in yields.values())
        if not total > 0:
            continue
        for ch in channels:
            second = np.zeros_like(attempts[ch.name])
            np.add.at(second, (np.asarray(ch.events["fv_index"]), np.asarray(ch.events["layer"])),
                      yields[ch.name] ** 2)
            spread = np.sqrt(attempts[ch.name] * second) / total
            need[ch.name] = np.maximum(need[ch.name], spread / max(spread.sum(), 1e-300))
    shares = {}
    for name, values in need.items():
        if not values.sum() > 0:
            return None
        values = np.maximum(values / values.sum(), FLOOR / values.size)
        shares[name] = (values / values.sum()).tolist()
    return shares


def top_up(shares: dict[str, list[list[float]]], attempts: dict[str, list[list[int]]],
           n_total: int) -> dict[str, list[list[float]]]:
    """Shares of the events that bring a pooled sample to ``n_total`` attempts per beam.

    The pooled sample already has ``attempts`` per stratum; the strata short of their
    share of ``n_total`` get the new events in proportion to their shortfall (a stratum
    above its share gets none beyond the one attempt every stratum keeps).

    Args:
        shares: per beam, the wanted shares per stratum (:func:`neyman_shares`).
        attempts: per beam, the attempts per stratum already made (same shape).
        n_total: attempts per beam wanted in all.

    Returns:
        Per beam, the shares (summing to 1) of the ``n_total`` minus already made attempts.
    """
    out = {}
    for beam, wanted in shares.items():
        made = np.asarray(attempts[beam], dtype=float)
        short = np.maximum(n_total * np.asarray(wanted, dtype=float) - made, 0.0)
        out[beam] = (short / short.sum()).tolist() if short.sum() > 0 else wanted
    return out
