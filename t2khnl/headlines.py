"""The paper's headline numbers, computed from finished mass scans.

* where a contour is world-leading: the mass windows [MeV] in which its lower edge d_low
  lies below the strongest existing limit (:func:`t2khnl.constraints_data.envelope`);
* the MiniBooNE verdict: the "MiniBooNE solution" is the overlap of the E_nu^QE and
  cos(theta) 95% CL regions (PROVENANCE.md). At every scanned mass inside it, CLs is
  evaluated on a log grid of d across the overlap's vertical slice, from the stored
  selected events; the region is disfavoured at CL = 1 - max CLs (ND280 2019, observed
  0 + 0 events), and the upgrade's exclusion significance is the Asimov Z of its weakest
  point (:func:`t2khnl.stats.significance_of_exclusion`);
* the bedrock turnover: the mass at which the rock-dominated branch of the contour
  (rock upscatters give more than half of the selected signal at d_low) reaches its lowest
  d_low, and the mass where the rock share falls below one half.

:data:`PAPER` holds the values arXiv:2412.15051 reports, for comparison.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import awkward as ak
import numpy as np
import numpy.typing as npt

from . import config, experiment, limit, stats
from .constraints_data import envelope, miniboone_regions
from .scanrecords import ContourRecord
from .scanstore import ScanStore

#: What arXiv:2412.15051 reports (PHYSICS.md, "What the paper reports").
PAPER: dict[str, Any] = {
    "nd280_world_leading_mev": [390.0, 743.0],
    "upgrade_world_leading_mev": [148.0, 860.0],
    "minibooNE_nd280_cl": 0.95,
    "minibooNE_upgrade_sigma": 5.0,
    "rock_turnover_mev": 200.0,
}
#: Points of the fine mass grid used to locate world-leading windows (log-spaced).
_FINE_MASSES = 2000


def world_leading_windows(
    mass_mev: npt.ArrayLike, d_low: npt.ArrayLike, existing: Any = None,
) -> list[tuple[float, float]]:
    """Mass windows [MeV] where d_low [GeV^-1] is below the strongest existing limit.

    d_low is interpolated linearly in (log m, log d) between neighbouring scanned masses
    that both have a lower edge (a mass without one breaks the curve); masses where no
    existing limit is defined count as world-leading wherever d_low exists.

    Args:
        mass_mev: scanned masses [MeV], increasing.
        d_low: lower edges [GeV^-1], NaN where nothing is excluded.
        existing: a function mass [MeV] -> strongest existing d [GeV^-1] (default
            :func:`t2khnl.constraints_data.envelope`).

    Returns:
        The windows (lo, hi) [MeV], in increasing mass.
    """
    if existing is None:
        existing = envelope
    m = np.asarray(mass_mev, dtype=np.float64)
    d = np.asarray(d_low, dtype=np.float64)
    fine = np.geomspace(m[0], m[-1], _FINE_MASSES)
    ours = _interpolate_edges(m, d, fine)
    bound = np.asarray(existing(fine), dtype=np.float64)
    leading = np.isfinite(ours) & ~(bound <= ours)
    return [(float(fine[s.start]), float(fine[s.stop - 1])) for s in _runs(leading)]


def scan_windows(records: list[ContourRecord]) -> list[tuple[float, float]]:
    """:func:`world_leading_windows` [MeV] of a scan's finished masses
    (:meth:`t2khnl.scanstore.ScanStore.records`)."""
    return world_leading_windows(
        [r["mass_gev"] * 1e3 for r in records],
        [np.nan if r["d_low"] is None else r["d_low"] for r in records])


def _interpolate_edges(
    mass: npt.NDArray[np.float64], d: npt.NDArray[np.float64], fine: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """log-log interpolation of d at ``fine`` masses, NaN outside runs of finite d."""
    out = np.full(fine.shape, np.nan)
    finite = np.isfinite(d) & (d > 0)
    for run in _runs(finite):
        mm, dd = mass[run], d[run]
        inside = (fine >= mm[0]) & (fine <= mm[-1])
        out[inside] = np.exp(np.interp(np.log(fine[inside]), np.log(mm), np.log(dd)))
    return out


def _runs(mask: npt.NDArray[np.bool_]) -> list[slice]:
    """Maximal runs of True in a boolean array, as slices."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [slice(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def vertical_intervals(polygon: npt.ArrayLike, mass_mev: float) -> list[tuple[float, float]]:
    """Intervals of d [GeV^-1] where the line m = ``mass_mev`` is inside a closed polygon.

    The polygon (columns m [MeV], d [GeV^-1], implicitly closed) is cut in (log m, log d);
    crossings are paired even-odd.
    """
    poly = np.log(np.asarray(polygon, dtype=np.float64))
    x0, y0 = poly[:, 0], poly[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    m = math.log(mass_mev)
    hit = (np.minimum(x0, x1) <= m) & (m < np.maximum(x0, x1))
    t = (m - x0[hit]) / (x1[hit] - x0[hit])
    ys = np.sort(np.exp(y0[hit] + t * (y1[hit] - y0[hit])))
    return [(float(a), float(b)) for a, b in zip(ys[::2], ys[1::2], strict=False)]


def miniboone_overlap(
    mass_mev: float, data_dir: str | os.PathLike[str] | None = None,
) -> list[tuple[float, float]]:
    """d intervals [GeV^-1] at one mass inside both MiniBooNE 95% CL regions (may be empty)."""
    regions = [
        [iv for poly in polys for iv in vertical_intervals(poly, mass_mev)]
        for polys in miniboone_regions(data_dir).values()
    ]
    overlap = regions[0]
    for other in regions[1:]:
        overlap = [(max(a, c), min(b, e)) for a, b in overlap for c, e in other
                   if max(a, c) < min(b, e)]
    return sorted(overlap)


class MiniBooNEVerdict(NamedTuple):
    """How strongly a scan disfavours the MiniBooNE solution.

    Attributes:
        cl: 1 - max CLs over the overlap of the two MiniBooNE regions (None: no scanned mass
            inside it).
        worst_mass_mev: the mass of the weakest point [MeV].
        worst_d: the coupling of the weakest point [GeV^-1].
        masses_mev: the scanned masses inside the overlap [MeV].
        sigma: for the upgrade, the Asimov Z of the weakest point (else None).
    """

    cl: float | None
    worst_mass_mev: float | None
    worst_d: float | None
    masses_mev: list[float]
    sigma: float | None


def miniboone_verdict(
    scan_dir: str | os.PathLike[str], detector: str, preset: str | config.Preset,
    *, data_dir: str | os.PathLike[str] | None = None, points_per_slice: int = 25,
) -> MiniBooNEVerdict:
    """How strongly a scan disfavours the MiniBooNE solution (module docstring).

    Args:
        scan_dir: a finished scan folder.
        detector: ``"nd280"`` (observed, CL) or ``"upgrade"`` (Asimov, also Z).
        preset: the scan's preset (name or file).
        data_dir: input-data folder (MiniBooNE regions).
        points_per_slice: d values per mass across the overlap.

    Returns:
        The verdict; its numbers are None if no scanned mass falls inside the overlap.
    """
    worst: tuple[float, float, float, dict[str, float], dict[str, float]] | None = None
    used = []
    for rec in ScanStore(scan_dir).records():
        mass_mev = rec["mass_gev"] * 1e3
        slices = miniboone_overlap(mass_mev, data_dir)
        if not slices:
            continue
        used.append(mass_mev)
        mass_dir, summary = _mass_result(scan_dir, rec)
        cfg = _analysis_config(preset, summary)
        channels = limit.load_channels(mass_dir, summary)
        signal = limit.signal_function(channels, rec["mass_gev"], cfg)
        counts = experiment.from_summary(summary, cfg)
        background, cls_of = counts.background, counts.cls
        for lo, hi in slices:
            for d in np.geomspace(lo, hi, points_per_slice):
                s = signal(float(d))
                value = cls_of(s)
                if worst is None or value > worst[0]:
                    worst = (value, mass_mev, float(d), s, background)
    if worst is None:
        return MiniBooNEVerdict(None, None, None, used, None)
    value, mass_mev, d, s, background = worst
    sigma = None
    if detector == "upgrade":
        sigma = stats.significance_of_exclusion(s, background)
    return MiniBooNEVerdict(1.0 - value, mass_mev, d, used, sigma)


def rock_shares(scan_dir: str | os.PathLike[str], preset: str) -> list[tuple[float, float]]:
    """Per scanned mass with a lower edge: (m [MeV], share of the selected signal at d_low
    from upscatters in the rock)."""
    out = []
    for rec in ScanStore(scan_dir).records():
        if rec["d_low"] is None:
            continue
        mass_dir, summary = _mass_result(scan_dir, rec)
        cfg = _analysis_config(preset, summary)
        channels = limit.load_channels(mass_dir, summary)
        weights = limit.event_yields(channels, rec["d_low"], cfg)
        regions = np.concatenate([ak.to_numpy(ch.events["region_id"]) for ch in channels])
        rock = _region_index(mass_dir, "rock")
        total = float(weights.sum())
        out.append((rec["mass_gev"] * 1e3,
                    float(weights[regions == rock].sum()) / total if total > 0 else 0.0))
    return out


def rock_turnover_mev(records: list[ContourRecord],
                      shares: list[tuple[float, float]]) -> float | None:
    """Mass [MeV] of the lowest d_low on the rock-dominated branch (rock share > 1/2).

    Args:
        records: the scan's finished masses (:meth:`t2khnl.scanstore.ScanStore.records`).
        shares: their rock shares (:func:`rock_shares`).
    """
    rock_share = dict(shares)
    branch = [(rec["d_low"], rec["mass_gev"] * 1e3) for rec in records
              if rec["d_low"] is not None and rock_share.get(rec["mass_gev"] * 1e3, 0.0) > 0.5]
    return min(branch)[1] if branch else None


def rock_crossover_mev(shares: list[tuple[float, float]]) -> float | None:
    """Mass [MeV] where the rock share (:func:`rock_shares`) first falls below 1/2
    (log-linear interpolation between scanned masses); None if it never does."""
    for (m0, s0), (m1, s1) in itertools.pairwise(shares):
        if s0 > 0.5 >= s1:
            return float(math.exp(math.log(m0) + (s0 - 0.5) / (s0 - s1) * math.log(m1 / m0)))
    return None


def _mass_result(scan_dir: str | os.PathLike[str], rec: ContourRecord
                 ) -> tuple[Path, dict[str, Any]]:
    """The folder and limit summary of one scanned mass."""
    store = ScanStore(scan_dir)
    result = store.read_mass_result(rec["mass_gev"])
    return store.mass_dir(rec["mass_gev"]), result["summary"]


def _analysis_config(preset: str | config.Preset, summary: dict[str, Any]) -> config.Preset:
    """The preset with the statistics the limit step actually used."""
    from dataclasses import replace

    from .config import Statistics

    return replace(config.resolve(preset), statistics=Statistics(**summary["statistics"]))


def _region_index(mass_dir: Path, name: str) -> int:
    """Index of an upscatter region in the ntuples' ``metadata["regions"]``."""
    from . import ntuple

    _, meta = ntuple.read(mass_dir / "selected_fhc.root")
    return list(meta["regions"]).index(name)


class Headlines(NamedTuple):
    """The headline numbers of one preset (:func:`headlines`).

    Attributes:
        preset: the preset.
        nd280_world_leading_mev: [lo, hi] [MeV] of the widest window where the ND280 2019
            contour is world-leading, None if none.
        nd280_windows_mev: every such window [MeV].
        upgrade_world_leading_mev: the same for the upgrade's sensitivity.
        upgrade_windows_mev: every such window [MeV].
        minibooNE_nd280_cl: the CL at which ND280 2019 disfavours the MiniBooNE solution.
        minibooNE_upgrade_sigma: the significance [sigma] of the upgrade's exclusion of it.
        minibooNE: the two verdicts in full, by detector.
        rock_turnover_mev: the mass [MeV] of the lowest d_low on the rock-fed branch.
        rock_crossover_mev: the mass [MeV] where the rock's share falls below one half.
        paper: what the paper reports (:data:`PAPER`).
    """

    preset: str
    nd280_world_leading_mev: list[float] | None
    nd280_windows_mev: list[list[float]]
    upgrade_world_leading_mev: list[float] | None
    upgrade_windows_mev: list[list[float]]
    minibooNE_nd280_cl: float | None
    minibooNE_upgrade_sigma: float | None
    minibooNE: dict[str, MiniBooNEVerdict]
    rock_turnover_mev: float | None
    rock_crossover_mev: float | None
    paper: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """The numbers as ``headlines.json`` holds them (key order as the fields')."""
        out = self._asdict()
        out["minibooNE"] = {det: verdict._asdict() for det, verdict in self.minibooNE.items()}
        return out


def headlines(
    scans: Mapping[str, str | os.PathLike[str]], preset: str,
    *, data_dir: str | os.PathLike[str] | None = None,
) -> Headlines:
    """The headline numbers of one preset from its ND280 2019 and upgrade scans.

    Args:
        scans: ``{"nd280": folder, "upgrade": folder}`` of finished scans.
        preset: their preset.
        data_dir: input-data folder.

    Returns:
        The numbers (:class:`Headlines`).
    """
    windows: dict[str, list[list[float]]] = {}
    widest: dict[str, list[float] | None] = {}
    records = {detector: ScanStore(scans[detector]).records() for detector in ("nd280", "upgrade")}
    for detector, recs in records.items():
        found = scan_windows(recs)
        best = max(found, key=lambda w: w[1] / w[0], default=None)
        widest[detector] = None if best is None else list(best)
        windows[detector] = [list(w) for w in found]
    nd280 = miniboone_verdict(scans["nd280"], "nd280", preset, data_dir=data_dir)
    upgrade = miniboone_verdict(scans["upgrade"], "upgrade", preset, data_dir=data_dir)
    shares = rock_shares(scans["nd280"], preset)
    return Headlines(
        preset, widest["nd280"], windows["nd280"], widest["upgrade"], windows["upgrade"],
        nd280.cl, upgrade.sigma, {"nd280": nd280, "upgrade": upgrade},
        rock_turnover_mev(records["nd280"], shares), rock_crossover_mev(shares), PAPER)
