"""The data of Figs. 2 and 3, computed in the pipeline; :mod:`t2khnl.plots` only draws it.

Fig. 2: :func:`simulate_vertex_samples`, one :func:`t2khnl.generate.simulate` sample per
detector and mass at the paper's coupling, with the exposure and geometry to draw it.
Fig. 3, the median lab-frame decay length [m] over (m_N, d_muN): :func:`simulate_medians`
(a small simulation per mass at a reference coupling) or :func:`scan_medians` (a scan's own
samples), scaled to a coupling grid as (d0/d)² by :func:`median_decay_length_on_grid`;
:func:`analytic_decay_length_m` and :func:`analytic_map` give βγ cτ at the median neutrino
energy of flux x σ_coh(E) on O16.

Details: plots/README.md ("Fig. 3").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import NamedTuple

import awkward as ak
import numpy as np
import numpy.typing as npt

from . import config, model
from .errors import InputError
from .reweight import median_decay_length_m
from .scanstore import ScanStore

logger = logging.getLogger(__name__)

#: Coupling d_muN of Fig. 2 [GeV^-1] (the paper's).
D_FIG2_GEV_INV = 3.87e-7
#: The detectors of Fig. 2.
DETECTORS: tuple[str, ...] = ("nd280", "upgrade")
#: Coupling [GeV^-1] the dedicated Fig. 3 samples are simulated at (any value gives the same
#: map).
D_REF_GEV_INV = 1.0e-6
#: Nucleus (O16) of the cross section that weights the analytic boost.
ANALYTIC_TARGET_PDG = 1000080160
_N_ENERGIES = 4000


# --------------------------------------------------------------------------- Fig. 2
class VertexSamples(NamedTuple):
    """The samples of Fig. 2 and what drawing them needs.

    Attributes:
        events: detector -> list of (mass [GeV], events as
            :func:`t2khnl.generate.simulate` returns them), in increasing mass.
        d_gev_inv: the coupling they were simulated at [GeV^-1].
        preset: their preset.
        beam: their beam (``"fhc"`` or ``"rhc"``).
        exposure_pot: detector -> the preset's nominal exposure of that beam [POT] (turns
            the weights [1/POT] into expected decays).
        geometry: detector -> (name, variant) of its geometry (:func:`t2khnl.geometry.load`),
            the outlines drawn.
    """

    events: dict[str, list[tuple[float, ak.Array]]]
    d_gev_inv: float
    preset: str
    beam: str
    exposure_pot: dict[str, float]
    geometry: dict[str, tuple[str, str]]


def simulate_vertex_samples(
    masses_gev: Sequence[float],
    *,
    detectors: Sequence[str] = DETECTORS,
    beam: str = "fhc",
    d_gev_inv: float = D_FIG2_GEV_INV,
    n_events: int = 20000,
    seed: int = 1,
    preset: str = "corrected",
    data_dir: str | os.PathLike[str] | None = None,
) -> VertexSamples:
    """Simulate the samples of Fig. 2 with :func:`t2khnl.generate.simulate`.

    Args:
        masses_gev: HNL masses [GeV] (e.g. 0.05, 0.2, 0.5: rock-dominated, the turnover,
            in-detector upscattering).
        detectors: any of ``"nd280"``, ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        d_gev_inv: dipole coupling d_muN [GeV^-1].
        n_events: upscatters injected per detector and mass.
        seed: random seed (the same for every sample).
        preset: ``"corrected"`` or ``"published"``.
        data_dir: input-data folder (default as :func:`t2khnl.flux.verify`).

    Returns:
        The samples, the input of :func:`t2khnl.plots.vertices.plot`.
    """
    from .generate import GEOMETRY_NAMES, simulate

    cfg = config.load(preset)
    for det in detectors:
        config.check_choice("detector", det, DETECTORS)
    folder = None if data_dir is None else str(data_dir)
    samples: dict[str, list[tuple[float, ak.Array]]] = {det: [] for det in detectors}
    for mass in map(float, masses_gev):  # the detectors of a mass share SIREN's objects
        for det in detectors:
            events = simulate(det, beam, mass, d_gev_inv, n_events=n_events, seed=seed,
                              preset=preset, data_dir=folder).events
            logger.info("Fig. 2 sample %s, m_N = %g GeV: %d events", det, mass, len(events))
            samples[det].append((mass, events))
    return VertexSamples(
        samples, d_gev_inv, preset, beam,
        {det: cfg.pot(det, beam) for det in detectors},
        {det: (GEOMETRY_NAMES[det], cfg.geometry_variant) for det in detectors})


# --------------------------------------------------------------------------- Fig. 3
class DecayLengthMap(NamedTuple):
    """A median lab decay length over the (m_N, d_muN) plane.

    Attributes:
        masses_gev: increasing HNL masses [GeV].
        d_gev_inv: increasing couplings [GeV^-1].
        median_m: the medians [m], shape (n_masses, n_d) (NaN: no events at that mass).
    """

    masses_gev: npt.NDArray[np.float64]
    d_gev_inv: npt.NDArray[np.float64]
    median_m: npt.NDArray[np.float64]


def median_decay_length_on_grid(
    events: ak.Array, d_ref_gev_inv: float, d_grid_gev_inv: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """Median lab decay length [m] at each coupling of a grid, from one sample.

    Args:
        events: records with ``decay_length_m`` [m] at ``d_ref_gev_inv`` and
            ``upscatter_weight`` [1/POT] (the median's weights).
        d_ref_gev_inv: coupling the sample was simulated at [GeV^-1].
        d_grid_gev_inv: couplings [GeV^-1].

    Returns:
        The weighted median of ``decay_length_m`` times (d_ref/d)², shape of the grid; NaN
        for a sample without an event of positive weight.
    """
    median_m = median_decay_length_m(events)
    if median_m is None:
        return np.full(np.shape(d_grid_gev_inv), np.nan)
    return _at_couplings(median_m, d_ref_gev_inv, d_grid_gev_inv)


def _at_couplings(median_m: float, d_ref_gev_inv: float,
                  d_grid_gev_inv: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """A median decay length [m] at d_ref [GeV^-1] at each coupling of a grid: L ∝ d^-2."""
    d = np.asarray(d_grid_gev_inv, dtype=float)
    if not (d_ref_gev_inv > 0 and np.all(d > 0)):
        msg = "couplings must be positive"
        raise InputError(msg)
    return np.asarray(median_m * (d_ref_gev_inv / d) ** 2, dtype=np.float64)


def simulate_medians(
    masses_gev: Sequence[float],
    d_grid_gev_inv: npt.ArrayLike,
    *,
    detector: str = "nd280",
    beam: str = "fhc",
    n_events: int = 20000,
    seed: int = 1,
    preset: str = "corrected",
    data_dir: str | os.PathLike[str] | None = None,
    d_ref_gev_inv: float = D_REF_GEV_INV,
) -> npt.NDArray[np.float64]:
    """Median lab decay lengths [m] from one dedicated simulation per mass.

    Each sample is injected as far upstream as the smallest d of the grid needs, so the
    same population of upscatters serves every d.

    Args:
        masses_gev: HNL masses [GeV].
        d_grid_gev_inv: couplings [GeV^-1].
        detector: ``"nd280"`` or ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        n_events: upscatters injected per mass.
        seed: random seed.
        preset: ``"corrected"`` or ``"published"`` (width convention, geometry).
        data_dir: input-data folder (default as :func:`t2khnl.flux.verify`).
        d_ref_gev_inv: coupling of the simulation [GeV^-1].

    Returns:
        Shape (n_masses, n_d); NaN for a mass without events (logged).
    """
    from .generate import simulate

    d = np.asarray(d_grid_gev_inv, dtype=float)
    folder = None if data_dir is None else str(data_dir)
    rows = []
    for mass in map(float, masses_gev):
        run = simulate(detector, beam, mass, d_ref_gev_inv, d_min_gev_inv=float(d.min()),
                       n_events=n_events, seed=seed, preset=preset, data_dir=folder)
        if len(run.events) == 0:
            logger.warning("no events at m_N = %g GeV: median decay length left NaN", mass)
            rows.append(np.full(d.shape, np.nan))
            continue
        rows.append(median_decay_length_on_grid(run.events, d_ref_gev_inv, d))
    return np.array(rows, dtype=float).reshape(len(rows), *d.shape)


def medians_from_scan(
    scan_dir: str | os.PathLike[str], d_grid_gev_inv: npt.ArrayLike, *, beam: str = "fhc"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Median decay lengths [m] from a mass scan: the medians of its simulated samples.

    :func:`t2khnl.limit.run` records in each mass's summary the weighted median decay
    length at its reference coupling of the sample it simulated (all the upscatters it
    keeps, before any cut: what :func:`simulate_medians` computes, on the scan's events).

    Args:
        scan_dir: the scan's output folder (its per-mass results).
        d_grid_gev_inv: couplings [GeV^-1].
        beam: ``"fhc"`` or ``"rhc"``.

    Returns:
        (masses [GeV], sorted; medians [m], shape (n_masses, n_d)); masses without
        simulated events (or skipped) are left out.

    Raises:
        InputError: no mass of the scan recorded a median for ``beam``.
    """
    store = ScanStore(scan_dir)
    found = []
    for path, result in store.mass_results():
        medians = (result.get("summary") or {}).get("median_decay_length_m") or {}
        if medians.get(beam) is None:
            logger.info("%s: no median decay length for %s, skipped", path, beam)
            continue
        found.append((float(result["mass_gev"]),
                      _at_couplings(medians[beam], medians["d_gev_inv"], d_grid_gev_inv)))
    if not found:
        msg = f"no mass under {store.masses_dir} recorded a {beam} median decay length"
        raise InputError(msg)
    found.sort(key=lambda item: item[0])
    return np.array([m for m, _ in found]), np.array([row for _, row in found])


def scan_medians(scan_dir: str | os.PathLike[str], d_grid_gev_inv: npt.ArrayLike, *,
                 beam: str = "fhc") -> DecayLengthMap:
    """:func:`medians_from_scan` as the map Fig. 3 draws."""
    masses, medians = medians_from_scan(scan_dir, d_grid_gev_inv, beam=beam)
    return DecayLengthMap(masses, np.asarray(d_grid_gev_inv, dtype=np.float64), medians)


def median_boost(
    mass_gev: float,
    *,
    beam: str = "fhc",
    target_pdg: int = ANALYTIC_TARGET_PDG,
    data_dir: str | os.PathLike[str] | None = None,
) -> float:
    """βγ = p_N/m_N at the median neutrino energy of flux × σ_coh(E) (E_N ≈ E_ν).

    Args:
        mass_gev: HNL mass [GeV].
        beam: ``"fhc"`` or ``"rhc"`` flux.
        target_pdg: nucleus of the coherent cross section (default O16).
        data_dir: input-data folder.

    Returns:
        The median boost (dimensionless).

    Raises:
        InputError: the mass is too heavy for the flux.
    """
    from . import xsec
    from .flux import load_beam_flux

    flux = load_beam_flux(beam, data_dir)
    table = xsec.build_tables(mass_gev, [target_pdg], channels=("coherent",))[
        (target_pdg, "coherent")
    ]
    centres = flux.energy_centers_gev
    e_lo, e_hi = max(table.threshold_gev, centres[0]), min(centres[-1], table.energies_gev[-1])
    if not e_lo < e_hi:
        msg = f"m_N = {mass_gev} GeV: no {beam.upper()} flux above the threshold {e_lo:g} GeV"
        raise InputError(msg)
    energy = np.geomspace(e_lo, e_hi, _N_ENERGIES)
    density = np.interp(energy, centres, flux.flux) * table.total(energy)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(energy))])
    e_median = float(np.interp(0.5, cdf / cdf[-1], energy))
    return float(np.sqrt(e_median**2 - mass_gev**2) / mass_gev)


def analytic_decay_length_m(
    masses_gev: npt.ArrayLike,
    d_grid_gev_inv: npt.ArrayLike,
    *,
    preset: str = "corrected",
    beam: str = "fhc",
    target_pdg: int = ANALYTIC_TARGET_PDG,
    data_dir: str | os.PathLike[str] | None = None,
) -> npt.NDArray[np.float64]:
    """Analytic median lab decay length [m]: :func:`median_boost` × cτ(m_N, d).

    Args:
        masses_gev: HNL masses [GeV].
        d_grid_gev_inv: couplings [GeV^-1].
        preset: its ``width_convention`` sets cτ.
        beam: ``"fhc"`` or ``"rhc"`` flux.
        target_pdg: nucleus of the cross section weighting the boost.
        data_dir: input-data folder.

    Returns:
        Shape (n_masses, n_d).
    """
    convention = config.load(preset).width_convention
    masses = np.atleast_1d(np.asarray(masses_gev, dtype=float))
    d = np.atleast_1d(np.asarray(d_grid_gev_inv, dtype=float))
    boost = np.array(
        [median_boost(m, beam=beam, target_pdg=target_pdg, data_dir=data_dir) for m in masses]
    )
    ctau = model.ctau_m(masses[:, None], d[None, :], convention=convention)
    return np.asarray(boost[:, None] * ctau, dtype=float)


def analytic_map(
    d_grid_gev_inv: npt.ArrayLike,
    *,
    mass_range_mev: tuple[float, float],
    n_masses: int = 30,
    n_couplings: int = 200,
    preset: str = "corrected",
    beam: str = "fhc",
    data_dir: str | os.PathLike[str] | None = None,
) -> DecayLengthMap:
    """:func:`analytic_decay_length_m` on the fine grid Fig. 3 draws its analytic lines on.

    Args:
        d_grid_gev_inv: the couplings of the simulated map [GeV^-1]: the fine grid spans
            them.
        mass_range_mev: the plotted mass range [MeV].
        n_masses: log-spaced masses over ``mass_range_mev`` (at least 2).
        n_couplings: log-spaced couplings over ``d_grid_gev_inv``.
        preset: width convention.
        beam: flux of the boost.
        data_dir: input-data folder.

    Returns:
        The analytic map.
    """
    d = np.asarray(d_grid_gev_inv, dtype=float)
    masses = np.geomspace(mass_range_mev[0], mass_range_mev[1], max(n_masses, 2)) / 1e3
    d_fine = np.geomspace(d[0], d[-1], n_couplings)
    return DecayLengthMap(masses, d_fine, analytic_decay_length_m(
        masses, d_fine, preset=preset, beam=beam, data_dir=data_dir))


__all__ = [
    "ANALYTIC_TARGET_PDG",
    "DETECTORS",
    "D_FIG2_GEV_INV",
    "D_REF_GEV_INV",
    "DecayLengthMap",
    "VertexSamples",
    "analytic_decay_length_m",
    "analytic_map",
    "median_boost",
    "median_decay_length_on_grid",
    "medians_from_scan",
    "scan_medians",
    "simulate_medians",
    "simulate_vertex_samples",
]
