"""A fast stand-in for :func:`t2khnl.limit.run` (scan plumbing tests; no SIREN).

It writes ``selected_{fhc,rhc}.root`` with synthetic events (deterministic in the seed) and a
``summary.json`` whose edges are where the reweighted signal crosses 3 events, appends the
mass to ``<scan>/calls.txt`` (a call counter) and sleeps ``$FAKE_LIMIT_SLEEP`` seconds.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from t2khnl import config, limit, ntuple, reweight
from t2khnl.errors import InputError

D_REF = 1e-6
GRID = np.geomspace(1e-8, 1e-3, 81)
POT = {"fhc": 1.234e21, "rhc": 6.29e20}
FLUX_END_GEV = 24.0
#: Upscatter regions of the synthetic events: t_in > 10 m is "rock".
REGIONS = ["rock", "p0d"]


def run(detector: str, mass_gev: float, *, preset: str, n_events: int,
        pot_total: float | None, seed: int, data_dir: str | None, output_dir: Any,
        t2k_backgrounds: bool | None, flux_xsec: float | None, allocation: Any,
        samples: Any, progress: Any, d_range: Any = None, cache: Any = None
        ) -> limit.LimitOutcome:
    out = Path(output_dir)
    with open(out.parents[1] / "calls.txt", "a") as file:
        file.write(f"{mass_gev!r}\n")
    if mass_gev >= FLUX_END_GEV:
        raise InputError(f"HNL mass {mass_gev} GeV is too heavy for the FHC flux, which ends "
                         f"at {FLUX_END_GEV:g} GeV")
    time.sleep(float(os.environ.get("FAKE_LIMIT_SLEEP", "0")))
    pot = POT if pot_total is None else {b: pot_total * p / sum(POT.values())
                                         for b, p in POT.items()}
    rng = np.random.default_rng([seed, int(mass_gev * 1e6)])
    generated = {}
    for beam in ("fhc", "rhc"):
        n = n_events
        t_in = rng.uniform(1.0, 20.0, n)
        events = {
            "upscatter_weight": rng.exponential(1.0, n) * 1e-18 / n,
            "t_in_m": t_in,
            "t_out_m": t_in + rng.uniform(0.5, 1.7, n),
            "decay_length_m": 1e4 * (0.1 / mass_gev) ** 4 * rng.uniform(0.5, 2.0, n),
        }
        events["weight"] = reweight.reweight(events, D_REF, d_ref_gev_inv=D_REF)
        events["region_id"] = np.where(t_in > 10.0, 0, 1)
        meta = {"d_gev_inv": D_REF, "efficiency": 0.5, "n_events": n, "regions": REGIONS}
        ntuple.write(out / f"selected_{beam}.root", ak.Array(events), meta)
        generated[beam] = events

    def signal(d: float) -> float:
        return sum(float(reweight.reweight(ev, d, d_ref_gev_inv=D_REF).sum()) * 0.5 * pot[b]
                   for b, ev in generated.items())

    grid = GRID if d_range is None else np.geomspace(*d_range, 81)
    values = np.array([signal(d) for d in grid])
    above = values > 3.0
    d_low = d_high = None
    if above.any():
        first, last = np.flatnonzero(above)[[0, -1]]
        d_low = _cross(grid, first - 1, first, values) if first > 0 else float(grid[0])
        d_high = (_cross(grid, last, last + 1, values) if last < len(grid) - 1
                  else float(grid[-1]))
    preset_obj = config.resolve(preset)
    summary = {
        "mass_gev": mass_gev, "detector": detector, "cl": 0.95,
        "preset": preset if isinstance(preset, str) else preset_obj.name,
        "d_low": d_low, "d_high": d_high, "d_low_open": bool(above[0]),
        "d_high_open": bool(above[-1]),
        "pot_fhc": pot["fhc"], "pot_rhc": pot["rhc"],
        "n_eff": {"d_low": None, "d_high": None},
        "signal_at_d_low": None, "signal_at_d_high": None,
        "refused": {"d_low": None, "d_high": None},
        "background": {"fhc": 0.0, "rhc": 0.0},
        "statistics": {"calctype": "exact", "t2k_backgrounds": False, "flux_xsec": None},
        "d_grid_gev_inv": [float(grid[0]), float(grid[-1]), len(grid)],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return limit.LimitOutcome(detector, mass_gev, preset_obj, summary,
                              tuple(limit.load_channels(out, summary)), {}, {}, None, None,
                              None, {})


def _cross(grid: np.ndarray, i: int, j: int, values: np.ndarray) -> float:
    """Log-log interpolation of the 3-event crossing between grid points i and j."""
    x = np.log(grid[[i, j]])
    y = np.log(np.maximum(values[[i, j]], 1e-300))
    t = (np.log(3.0) - y[0]) / (y[1] - y[0])
    return float(np.exp(x[0] + t * (x[1] - x[0])))
