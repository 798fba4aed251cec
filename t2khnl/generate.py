"""Event generation: SIREN upscattering, exact decays in the fiducial volumes, e+e- pairs.

For one model point (m_N [GeV], d [GeV^-1]) :func:`simulate` builds the cross-section
tables of every nucleus of the detector model (:mod:`t2khnl.xsec`), injects upscatters in
front of each fiducial box (:mod:`t2khnl.injection`), assigns channels and incoming
neutrinos (:mod:`t2khnl.nucleons`, :func:`beam_components`), and gives each HNL its exact
probability to decay in the box and its e+e- pair (:mod:`t2khnl.decay`,
:mod:`t2khnl.model`); steps after the tables are :mod:`t2khnl.events`. An event's
``weight`` [1/POT] is the expected number of HNL decays in the fiducial volumes it stands
for, before BR(ee), cuts and efficiency; the boxes' samples add up.

Details: docs/injection.md ("From a model point to events").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import awkward as ak
import numpy as np

from . import config, model, siren_tables, xsec, xsec_cache
from .config import Preset, WidthConvention
from .errors import InputError
from .events import Setup, _strata_m, generate_events, strata_attempts
from .flux import Flux, load_beam_flux
from .samples import Simulation, describe, pool

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .geometry.detector import DetectorGeometry

__all__ = ["GEOMETRY_NAMES", "SIMULATION_KEYS", "Setup", "Simulation", "SimulationCache",
           "beam_components", "check_inputs", "check_model_point", "check_producible",
           "generate_events", "pool", "simulate", "strata_attempts"]

log = logging.getLogger(__name__)

#: SIREN detector-model names of t2khnl's detectors.
GEOMETRY_NAMES = {"nd280": "nd280", "upgrade": "nd280upgrade"}
#: Quantile of the flux (above threshold) whose HNL sets the injection length upstream.
_FLUX_QUANTILE = 0.99



def check_model_point(mass_gev: float, d_gev_inv: float, n_events: int) -> None:
    """Reject unphysical inputs with a message naming the problem.

    Args:
        mass_gev: HNL mass [GeV], must be > 2 m_e so that N -> nu e+ e- is open.
        d_gev_inv: dipole coupling [GeV^-1], must be > 0.
        n_events: events to inject, must be a positive integer.

    Raises:
        InputError: any of the above fails.
    """
    if not (isinstance(mass_gev, int | float) and math.isfinite(mass_gev)):
        msg = f"HNL mass must be a finite number of GeV, got {mass_gev!r}"
        raise InputError(msg)
    if mass_gev <= 2 * model.M_ELECTRON_GEV:
        msg = f"HNL mass {mass_gev} GeV is unphysical here: it must exceed 2 m_e = 1.022 MeV"
        raise InputError(msg)
    if not (isinstance(d_gev_inv, int | float) and math.isfinite(d_gev_inv) and d_gev_inv > 0):
        msg = f"coupling d must be a positive number of GeV^-1, got {d_gev_inv!r}"
        raise InputError(msg)
    if isinstance(n_events, bool) or not isinstance(n_events, int) or n_events <= 0:
        msg = f"number of events must be a positive integer, got {n_events!r}"
        raise InputError(msg)


def check_inputs(detector: str, beam: str, mass_gev: float, d_gev_inv: float, *,
                 n_events: int, seed: int, preset: str | Preset, data_dir: str | None,
                 d_min_gev_inv: float | None = None) -> tuple[Preset, Flux, DetectorGeometry]:
    """Check the arguments of :func:`simulate` (same meaning) before any simulation.

    Writes nothing but the geometry cache (:func:`t2khnl.geometry.load`).

    Returns:
        The preset, the beam's flux and the detector geometry.

    Raises:
        InputError: as :func:`simulate`.
        DataFileError: a missing or corrupt flux file.
    """
    config.check_choice("detector", detector, config.DETECTORS)
    config.check_choice("beam", beam, config.BEAMS)
    check_model_point(mass_gev, d_gev_inv, n_events)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}"
        raise InputError(msg)
    if d_min_gev_inv is not None:
        check_model_point(mass_gev, d_min_gev_inv, n_events)
    cfg = config.resolve(preset)
    flux = load_beam_flux(beam, data_dir)
    return cfg, flux, check_producible(detector, beam, mass_gev, cfg, flux)


def check_producible(detector: str, beam: str, mass_gev: float, cfg: Preset,
                     flux: Flux) -> DetectorGeometry:
    """Reject an HNL mass that no neutrino of the flux can make in the detector.

    The heaviest HNL the flux can make is :func:`t2khnl.xsec.heaviest_hnl_gev` at the
    flux's highest energy on the heaviest scatterer of the detector model that the preset's
    channels reach (a nucleus for ``coherent``, a proton for ``p-el``): above it no
    target's threshold m + m^2/(2M) is below the end of the flux. Nothing is written.

    Args:
        detector: ``"nd280"`` or ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        mass_gev: HNL mass [GeV].
        cfg: the preset.
        flux: the beam's flux.

    Returns:
        The detector geometry (:func:`t2khnl.geometry.load`).

    Raises:
        InputError: the mass is at or above that limit; the message names it.
    """
    from .geometry import load as load_geometry

    geometry = load_geometry(GEOMETRY_NAMES[detector], cfg.geometry_variant)
    heaviest = max(((xsec.heaviest_hnl_gev(flux.max_energy_gev,
                                           xsec.scatterer_mass_gev(pdg, channel)), pdg, channel)
                    for pdg in _targets(geometry) for channel in cfg.channels
                    if channel != "coherent" or (pdg // 10) % 1000 > 1), default=None)
    if heaviest is not None and mass_gev >= heaviest[0]:
        largest, pdg, channel = heaviest
        on = {"coherent": xsec.nucleus_name(pdg), "p-el": "a proton",
              "n-el": "a neutron"}[channel]
        msg = (f"HNL mass {mass_gev} GeV is too heavy for the {beam.upper()} flux, which ends "
               f"at {flux.max_energy_gev:g} GeV: the largest mass it can produce in {detector} "
               f"is {largest:.4g} GeV (threshold m + m^2/2M at {flux.max_energy_gev:g} GeV, "
               f"{channel} on {on})")
        raise InputError(msg)
    return geometry


def _targets(geometry: DetectorGeometry) -> list[int]:
    """PDG codes of every nucleus in the detector model."""
    nuclei = {t for name in geometry.material_names for t in geometry.material_targets(name)}
    return sorted(t for t in nuclei if 1000000000 <= t < 1100000000)


#: Preset keys the simulated events depend on (with the primary the RHC beam injects);
#: the others (BR, cuts, statistics, exposure) act on the events afterwards.
SIMULATION_KEYS = ("geometry_variant", "channels", "injection", "width_convention",
                   "survival_to_fiducial", "pauli_blocking", "wrong_sign_component",
                   "decay_region")


class _CrossSectionCache:
    """Tables and SIREN cross-section objects of one model point, kept per target nucleus.

    The objects of one (m [GeV], channels, d [GeV^-1]) are kept until another is asked
    for: the two beams of a limit step, the reruns of a mass and the other detector at the
    same mass in the same process share them, since building them (SIREN parsing
    the text tables, ~3 s for ND280's 25 nuclei) costs about as much as a small injection.
    An object depends on its own target's tables only
    (:func:`t2khnl.siren_tables.siren_cross_sections`), so a detector with other nuclei
    builds only the missing ones.
    """

    def __init__(self) -> None:
        self._point: tuple[float, tuple[str, ...], float] | None = None
        self._tables: dict[tuple[int, str], xsec.CrossSectionTable] = {}
        self._objects: dict[int, list[Any]] = {}

    def get(self, mass_gev: float, targets: Sequence[int], channels: tuple[str, ...],
            d_gev_inv: float) -> tuple[dict[tuple[int, str], xsec.CrossSectionTable], list[Any]]:
        """The tables of ``targets`` (and the free-nucleon tables of the incoherent channels)
        and the targets' SIREN objects (both beams' primaries)."""
        point = (mass_gev, channels, d_gev_inv)
        if point != self._point:
            self._point, self._tables, self._objects = point, {}, {}
        missing = [t for t in targets if t not in self._objects]
        free = set(xsec.FREE_NUCLEON_PDG.items())
        if missing:
            tables = xsec_cache.cached_tables(mass_gev, missing, channels=list(channels))
            self._tables.update({key: t for key, t in tables.items() if key[::-1] in free})
            for pdg in missing:
                own = {key: table for key, table in tables.items() if key[0] == pdg}
                self._tables.update(own)
                self._objects[pdg] = (siren_tables.siren_cross_sections(own, d_gev_inv)
                                      if own else [])
        wanted = set(targets)
        return ({key: table for key, table in self._tables.items()
                 if key[0] in wanted or key[::-1] in free},
                [obj for t in sorted(wanted) for obj in self._objects[t]])



def _reference_decay_length_m(
    flux: Flux, mass_gev: float, d_gev_inv: float, width_convention: WidthConvention
) -> float:
    """Decay length [m] of an HNL carrying the flux's 99% quantile energy above threshold."""
    centres = flux.energy_centers_gev
    above = centres > mass_gev
    cdf = np.cumsum(flux.flux_per_bin[above])
    energy = centres[above][np.searchsorted(cdf, _FLUX_QUANTILE * cdf[-1])]
    momentum = math.sqrt(max(energy**2 - mass_gev**2, 0.0)) or mass_gev
    return float(model.decay_length_m(mass_gev, d_gev_inv, momentum, convention=width_convention))



class SimulationCache:
    """What :func:`simulate` may reuse between calls, owned by the caller and passed in.

    It holds the SIREN cross-section objects of the last model point
    (:class:`_CrossSectionCache`) and the last ``kept`` samples, by everything they depend
    on (detector, beam, model point, events, seed, data, allocation, primary and the
    preset's :data:`SIMULATION_KEYS`): a preset that differs only after the simulation
    (a step of :mod:`t2khnl.compare`'s walk) reuses the events. :func:`simulate` without a
    cache simulates every time.

    Attributes:
        cross_sections: the cross-section objects.
        kept: how many samples to keep (a limit step's two beams).
    """

    def __init__(self, kept: int = 2) -> None:
        self.cross_sections = _CrossSectionCache()
        self.kept = kept
        self._samples: dict[tuple[Any, ...], _Sample] = {}

    def take(self, key: tuple[Any, ...]) -> _Sample | None:
        """The sample kept under ``key`` (removed until :meth:`keep` puts it back), or None."""
        return self._samples.pop(key, None)

    def keep(self, key: tuple[Any, ...], sample: _Sample) -> None:
        """Keep ``sample`` as the newest, dropping the oldest beyond :attr:`kept`."""
        self._samples[key] = sample
        while len(self._samples) > self.kept:
            self._samples.pop(next(iter(self._samples)))

    def clear(self) -> None:
        """Forget the kept samples and cross sections."""
        self.__init__(self.kept)  # type: ignore[misc]


def simulate(
    detector: str,
    beam: str,
    mass_gev: float,
    d_gev_inv: float,
    *,
    n_events: int,
    seed: int = 1,
    preset: str | Preset = "corrected",
    data_dir: str | None = None,
    d_min_gev_inv: float | None = None,
    allocation: ArrayLike | None = None,
    progress: Callable[[int], object] | None = None,
    cache: SimulationCache | None = None,
) -> Simulation:
    """Simulate HNL decays inside the TPC fiducial volumes for one model point.

    Args:
        detector: ``"nd280"`` (2019, 3 TPCs) or ``"upgrade"`` (3 TPCs + 2 HA-TPCs).
        beam: ``"fhc"`` (nu_mu) or ``"rhc"`` (nu_mu-bar flux).
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d_muN [GeV^-1] (d = mu_tr / 2).
        n_events: upscatters to inject, shared equally between the fiducial boxes.
        seed: random seed; the same seed gives the same events.
        preset: a :class:`~t2khnl.config.Preset`, or ``"corrected"`` (default),
            ``"published"`` or a preset file.
        data_dir: input-data folder (default: ``$T2KHNL_DATA_DIR``, else the packaged data).
        d_min_gev_inv: smallest coupling [GeV^-1] the sample will be reweighted to; it
            sets how far upstream upscatters are injected (default: ``d_gev_inv``).
        allocation: shares of ``n_events`` per injection stratum, shape (fiducial boxes,
            layers) as in ``metadata["strata"]`` (see :func:`generate_events`); default:
            equal shares.
        progress: called with the number of injection attempts made since its last call.
        cache: cross sections and samples to reuse (:class:`SimulationCache`): a call that
            repeats a kept sample returns its events without simulating again, with
            metadata of the preset asked for. None (default): nothing is reused.

    Returns:
        The events (only those with a non-zero decay probability) and the metadata.

    Raises:
        InputError: unknown detector, beam or preset; unphysical mass or coupling; a mass
            too heavy for the flux.
        DataFileError: a missing or corrupt flux file.
    """
    cfg, flux, geometry = check_inputs(detector, beam, mass_gev, d_gev_inv, n_events=n_events,
                                       seed=seed, preset=preset, data_dir=data_dir,
                                       d_min_gev_inv=d_min_gev_inv)
    flux, components = beam_components(flux, data_dir, cfg)
    primary = 14 if beam == "fhc" or cfg.rhc_primary == "nu_mu" else -14
    key = (detector, beam, mass_gev, d_gev_inv, n_events, seed, data_dir, d_min_gev_inv,
           None if allocation is None else np.asarray(allocation, dtype=float).tobytes(),
           primary, tuple(getattr(cfg, k) for k in SIMULATION_KEYS))
    sample = None if cache is None else cache.take(key)
    if sample is None:
        cross_sections = _CrossSectionCache() if cache is None else cache.cross_sections
        sample = _sample(geometry, flux, mass_gev, d_gev_inv, n_events=n_events,
                         seed=seed, preset=cfg, primary=primary, components=components,
                         d_min_gev_inv=d_min_gev_inv, allocation=allocation,
                         progress=progress, cross_sections=cross_sections)
    if cache is not None:
        cache.keep(key, sample)
    metadata = describe(
        sample.events, detector=detector, beam=beam, mass_gev=mass_gev, d_gev_inv=d_gev_inv,
        n_events=n_events, seed=seed, preset=cfg, geometry=geometry,
        upstream_m=sample.upstream_m, targets=sample.targets, strata=sample.strata,
        layer_edges_m=_strata_m(sample.upstream_m).tolist(),
    )
    return Simulation(sample.events, metadata)


class _Sample(NamedTuple):
    """What :func:`simulate` keeps of a simulation: the events and how they were injected."""

    events: ak.Array
    upstream_m: float
    targets: list[int]
    strata: list[list[int]]


def beam_components(flux: Flux, data_dir: str | None,
                    preset: Preset) -> tuple[Flux, tuple[tuple[int, np.ndarray], ...]]:
    """The flux a beam's upscatters are injected with, and its muon-flavour components.

    Without the preset's ``wrong_sign_component``: the beam's main flux (FHC nu_mu, RHC
    nu_mu-bar) and no components (every event has the injected primary). With it: the sum
    of the nu_mu and nu_mu-bar columns of the beam's flux file (the dipole couples to both
    alike, and their upscattering cross sections are equal: tests/test_lagrangian.py), and
    each column's (PDG, flux density) on the same energy nodes.
    """
    if not preset.wrong_sign_component:
        return flux, ()
    wrong = load_beam_flux(flux.beam, data_dir, wrong_sign=True)
    total = Flux(beam=flux.beam, pdg=flux.pdg, energy_edges_gev=flux.energy_edges_gev,
                 flux=flux.flux + wrong.flux, source=flux.source,
                 column=f"{flux.column}+{wrong.column}")
    return total, ((flux.pdg, flux.flux), (wrong.pdg, wrong.flux))


def _sample(geometry: DetectorGeometry, flux: Flux, mass_gev: float, d_gev_inv: float, *,
            n_events: int, seed: int, preset: Preset, primary: int,
            components: tuple[tuple[int, np.ndarray], ...],
            d_min_gev_inv: float | None, allocation: ArrayLike | None,
            progress: Callable[[int], object] | None,
            cross_sections: _CrossSectionCache) -> _Sample:
    """Inject and decay (:func:`generate_events`) with the preset's simulation settings."""
    tables, processes = cross_sections.get(mass_gev, _targets(geometry),
                                           tuple(preset.channels), d_gev_inv)
    inj = preset.injection
    upstream_m = min(
        inj.decay_lengths_upstream
        * _reference_decay_length_m(
            flux, mass_gev, min(d_gev_inv, d_min_gev_inv or d_gev_inv), preset.width_convention
        ),
        inj.max_upstream_m,
    )
    setup = Setup(
        detector_model=geometry.detector_model,
        boxes=geometry.decay_boxes(preset.decay_region),
        processes=processes,
        flux=(flux.energy_centers_gev, flux.flux),
        primary_pdg=primary,
        region_of=geometry.region_of,
        tables=tables,
        pauli_blocking=preset.pauli_blocking,
        components=components,
    )
    events = generate_events(
        setup, mass_gev, d_gev_inv, n_events=n_events, seed=seed,
        width_convention=preset.width_convention, survival=preset.survival_to_fiducial,
        upstream_m=upstream_m, radius_margin_m=inj.radius_margin_m,
        window_lengths=None if preset.survival_to_fiducial else inj.decay_lengths_upstream,
        allocation=allocation, progress=progress,
        d_min_gev_inv=min(d_gev_inv, d_min_gev_inv or d_gev_inv),
    )
    return _Sample(events, upstream_m, sorted({int(k[0]) for k in tables}),
                   strata_attempts(n_events, len(setup.boxes), upstream_m, allocation))
