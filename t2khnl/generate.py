"""Event generation: SIREN upscattering, exact decays in the fiducial volumes, e+e- pairs.

For one model point (m_N, d) this module

1. builds the upscattering cross-section tables of every nucleus of the detector model
   (:mod:`t2khnl.xsec`, DarkNews amplitudes) and hands them to SIREN's C++
   ``HNLDipoleFromTable``;
2. for each fiducial box, injects upscatters with SIREN (:mod:`t2khnl.injection`) in a
   cylinder along the beam that ends at the box's downstream face and starts
   ``decay_lengths_upstream`` decay lengths in front of it (rock included);
3. draws each upscatter's channel (coherent, p-el, n-el) and incoming neutrino (the beam's
   main or, with ``wrong_sign_component``, its wrong-sign muon flavour) from the cross
   sections and fluxes at its energy, and gives the incoherent ones nucleon-level
   kinematics and, with ``pauli_blocking``, their Pauli factor (:mod:`t2khnl.nucleons`);
4. gives each HNL its exact probability to decay inside that box (:mod:`t2khnl.decay`),
   samples the decay point there and the e+e- pair of N -> nu (gamma* -> e+e-)
   (:mod:`t2khnl.model`).

Each box's sample only credits decays in that box, so the boxes' samples add up. An event's
``weight`` is the expected number, per POT, of HNLs that decay inside the fiducial volumes
(before BR(ee), cuts and efficiency) that it stands for.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import awkward as ak
import numpy as np

from . import config, decay, injection, model, nucleons, siren_tables, xsec, xsec_cache
from ._version import __version__
from .errors import InputError
from .flux import Flux, load_beam_flux
from .geometry.restrict import restrict
from .injection import HNL_PDG

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

log = logging.getLogger(__name__)

#: SIREN detector-model names of t2khnl's detectors.
GEOMETRY_NAMES = {"nd280": "nd280", "upgrade": "nd280upgrade"}
#: Quantile of the flux (above threshold) whose HNL sets the injection length upstream.
_FLUX_QUANTILE = 0.99
#: Depth [m] of the first injection layer in front of a fiducial box; further layers
#: span a decade of distance each, so short and long decay lengths are both sampled.
_NEAREST_LAYER_M = 0.05
#: Margin [m] around a stratum's injection cylinder within which SIREN's model keeps its
#: sectors (:func:`t2khnl.geometry.restrict.restrict`); it covers the 1 um thick start disk.
_REGION_PAD_M = 1e-3


class Simulation(NamedTuple):
    """A simulated sample: one record per event with a decay in a fiducial volume.

    Attributes:
        events: flat record array (branch names and units in README.md).
        metadata: the run description (model point, detector, preset, POT convention,
            versions, expected decays for the nominal exposure and their MC error).
    """

    events: ak.Array
    metadata: dict[str, Any]


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
                 n_events: int, seed: int, preset: str, data_dir: str | None,
                 d_min_gev_inv: float | None = None) -> tuple[dict[str, Any], Flux, Any]:
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
    cfg = config.load(preset)
    flux = load_beam_flux(beam, data_dir)
    return cfg, flux, check_producible(detector, beam, mass_gev, cfg, flux)


def check_producible(detector: str, beam: str, mass_gev: float, cfg: dict[str, Any],
                     flux: Flux) -> Any:
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
        The detector geometry (:func:`t2khnl.geometry.load`, cached).

    Raises:
        InputError: the mass is at or above that limit; the message names it.
    """
    from .geometry import load as load_geometry

    geometry = load_geometry(GEOMETRY_NAMES[detector], cfg["geometry_variant"])
    heaviest = max(((xsec.heaviest_hnl_gev(flux.max_energy_gev,
                                           xsec.scatterer_mass_gev(pdg, channel)), pdg, channel)
                    for pdg in _targets(geometry) for channel in cfg["channels"]
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


def _targets(geometry: Any) -> list[int]:
    """PDG codes of every nucleus in the detector model."""
    nuclei = {t for name in geometry.material_names for t in geometry.material_targets(name)}
    return sorted(t for t in nuclei if 1000000000 <= t < 1100000000)


#: Preset keys the simulated events depend on (with the primary the RHC beam injects);
#: the others (BR, cuts, statistics, exposure) act on the events afterwards.
SIMULATION_KEYS = ("geometry_variant", "channels", "injection", "width_convention",
                   "survival_to_fiducial", "pauli_blocking", "wrong_sign_component",
                   "decay_region")
#: Samples :func:`simulate` keeps: a limit step's two beams.
_KEPT_SAMPLES = 2


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


_CROSS_SECTIONS = _CrossSectionCache()
#: The last samples of :func:`simulate`, by everything they depend on (oldest first): a
#: preset that differs only after the simulation (the walk of :mod:`t2khnl.compare`)
#: reuses them.
_SAMPLES: dict[tuple[Any, ...], _Sample] = {}


def _reference_decay_length_m(
    flux: Flux, mass_gev: float, d_gev_inv: float, width_convention: str
) -> float:
    """Decay length [m] of an HNL carrying the flux's 99% quantile energy above threshold."""
    centres = flux.energy_centers_gev
    above = centres > mass_gev
    cdf = np.cumsum(flux.flux_per_bin[above])
    energy = centres[above][np.searchsorted(cdf, _FLUX_QUANTILE * cdf[-1])]
    momentum = math.sqrt(max(energy**2 - mass_gev**2, 0.0)) or mass_gev
    return float(model.decay_length_m(mass_gev, d_gev_inv, momentum, convention=width_convention))


def window_lengths(cfg: dict[str, Any]) -> float | None:
    """The preset's injection window in decay lengths when its weights lack survival."""
    return None if cfg["survival_to_fiducial"] else cfg["injection"]["decay_lengths_upstream"]


def _split(n_events: int, n_parts: int) -> list[int]:
    """Split ``n_events`` into ``n_parts`` near-equal positive parts."""
    base, extra = divmod(n_events, n_parts)
    return [base + (i < extra) for i in range(n_parts)]


def simulate(
    detector: str,
    beam: str,
    mass_gev: float,
    d_gev_inv: float,
    *,
    n_events: int,
    seed: int = 1,
    preset: str = "corrected",
    data_dir: str | None = None,
    d_min_gev_inv: float | None = None,
    allocation: ArrayLike | None = None,
    progress: Callable[[int], object] | None = None,
) -> Simulation:
    """Simulate HNL decays inside the TPC fiducial volumes for one model point.

    Args:
        detector: ``"nd280"`` (2019, 3 TPCs) or ``"upgrade"`` (3 TPCs + 2 HA-TPCs).
        beam: ``"fhc"`` (nu_mu) or ``"rhc"`` (nu_mu-bar flux).
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d_muN [GeV^-1] (d = mu_tr / 2).
        n_events: upscatters to inject, shared equally between the fiducial boxes.
        seed: random seed; the same seed gives the same events.
        preset: ``"corrected"`` (default) or ``"published"``.
        data_dir: input-data folder (default: ``$T2KHNL_DATA_DIR``, else the packaged data).
        d_min_gev_inv: smallest coupling [GeV^-1] the sample will be reweighted to; it
            sets how far upstream upscatters are injected (default: ``d_gev_inv``).
        allocation: shares of ``n_events`` per injection stratum, shape (fiducial boxes,
            layers) as in ``metadata["strata"]`` (see :func:`generate_events`); default:
            equal shares.
        progress: called with the number of injection attempts made since its last call.

    The last two samples are kept: a call that repeats one of them (same arguments, and
    the same :data:`SIMULATION_KEYS` and RHC primary of the preset) returns its events
    without simulating again, with metadata of the preset asked for.

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
    primary = 14 if beam == "fhc" or cfg["rhc_primary"] == "nu_mu" else -14
    key = (detector, beam, mass_gev, d_gev_inv, n_events, seed, data_dir, d_min_gev_inv,
           None if allocation is None else np.asarray(allocation, dtype=float).tobytes(),
           primary, json.dumps({k: cfg[k] for k in SIMULATION_KEYS}, sort_keys=True))
    sample = _SAMPLES.pop(key, None)
    if sample is None:
        sample = _sample(geometry, flux, mass_gev, d_gev_inv, n_events=n_events,
                         seed=seed, cfg=cfg, primary=primary, components=components,
                         d_min_gev_inv=d_min_gev_inv, allocation=allocation,
                         progress=progress)
    _SAMPLES[key] = sample
    while len(_SAMPLES) > _KEPT_SAMPLES:
        _SAMPLES.pop(next(iter(_SAMPLES)))
    metadata = _metadata(
        sample.events, detector=detector, beam=beam, mass_gev=mass_gev, d_gev_inv=d_gev_inv,
        n_events=n_events, seed=seed, cfg=cfg, geometry=geometry, upstream_m=sample.upstream_m,
        targets=sample.targets, strata=sample.strata,
    )
    return Simulation(sample.events, metadata)


class _Sample(NamedTuple):
    """What :func:`simulate` keeps of a simulation: the events and how they were injected."""

    events: ak.Array
    upstream_m: float
    targets: list[int]
    strata: list[list[int]]


def beam_components(flux: Flux, data_dir: str | None,
                    cfg: dict[str, Any]) -> tuple[Flux, tuple[tuple[int, np.ndarray], ...]]:
    """The flux a beam's upscatters are injected with, and its muon-flavour components.

    Without the preset's ``wrong_sign_component``: the beam's main flux (FHC nu_mu, RHC
    nu_mu-bar) and no components (every event has the injected primary). With it: the sum
    of the nu_mu and nu_mu-bar columns of the beam's flux file (the dipole couples to both
    alike, and their upscattering cross sections are equal: tests/test_lagrangian.py), and
    each column's (PDG, flux density) on the same energy nodes.
    """
    if not cfg["wrong_sign_component"]:
        return flux, ()
    wrong = load_beam_flux(flux.beam, data_dir, wrong_sign=True)
    total = Flux(beam=flux.beam, pdg=flux.pdg, energy_edges_gev=flux.energy_edges_gev,
                 flux=flux.flux + wrong.flux, source=flux.source,
                 column=f"{flux.column}+{wrong.column}")
    return total, ((flux.pdg, flux.flux), (wrong.pdg, wrong.flux))


def _sample(geometry: Any, flux: Flux, mass_gev: float, d_gev_inv: float, *,
            n_events: int, seed: int, cfg: dict[str, Any], primary: int,
            components: tuple[tuple[int, np.ndarray], ...],
            d_min_gev_inv: float | None, allocation: ArrayLike | None,
            progress: Callable[[int], object] | None) -> _Sample:
    """Inject and decay (:func:`generate_events`) with the preset's simulation settings."""
    tables, processes = _CROSS_SECTIONS.get(mass_gev, _targets(geometry),
                                            tuple(cfg["channels"]), d_gev_inv)
    inj = cfg["injection"]
    upstream_m = min(
        inj["decay_lengths_upstream"]
        * _reference_decay_length_m(
            flux, mass_gev, min(d_gev_inv, d_min_gev_inv or d_gev_inv), cfg["width_convention"]
        ),
        inj["max_upstream_m"],
    )
    setup = Setup(
        detector_model=geometry.detector_model,
        boxes=geometry.decay_boxes(cfg["decay_region"]),
        processes=processes,
        flux=(flux.energy_centers_gev, flux.flux),
        primary_pdg=primary,
        region_of=geometry.region_of,
        tables=tables,
        pauli_blocking=cfg["pauli_blocking"],
        components=components,
    )
    events = generate_events(
        setup, mass_gev, d_gev_inv, n_events=n_events, seed=seed,
        width_convention=cfg["width_convention"], survival=cfg["survival_to_fiducial"],
        upstream_m=upstream_m, radius_margin_m=inj["radius_margin_m"],
        window_lengths=window_lengths(cfg), allocation=allocation, progress=progress,
        d_min_gev_inv=min(d_gev_inv, d_min_gev_inv or d_gev_inv),
    )
    return _Sample(events, upstream_m, sorted({int(k[0]) for k in tables}),
                   strata_attempts(n_events, len(setup.boxes), upstream_m, allocation))


class Setup(NamedTuple):
    """What the generator needs from a detector and a model point.

    Attributes:
        detector_model: ``siren.detector.DetectorModel``.
        boxes: fiducial boxes (objects with ``name``, ``centre`` [m], ``widths`` [m]).
        processes: SIREN cross sections (``HNLDipoleFromTable`` objects).
        flux: (energies [GeV], flux [nu / m^2 / GeV / POT]).
        primary_pdg: 14 (nu_mu) or -14 (nu_mu-bar), the primary SIREN injects.
        region_of: maps SIREN sector names to region names (:data:`REGIONS`).
        tables: the cross-section tables ``processes`` were built from (every target's,
            and the free-nucleon ones of the incoherent channels), for
            :func:`t2khnl.nucleons.reassign`.
        aim_regions: regions that are uniform across the beam over the HNLs' transverse
            reach (the rock); their vertices are aimed (see :func:`generate_events`).
        pauli_blocking: weight incoherent upscatters on nuclei by their Pauli factor.
        components: (PDG, flux density at the ``flux`` energies) of each neutrino species
            in ``flux`` (they add up to it), from which each event's incoming neutrino is
            drawn at its energy; empty: every event is ``primary_pdg``.
    """

    detector_model: Any
    boxes: tuple[Any, ...]
    processes: list[Any]
    flux: tuple[np.ndarray, np.ndarray]
    primary_pdg: int
    region_of: Callable[[Any], Any]
    tables: Mapping[tuple[int, str], xsec.CrossSectionTable]
    aim_regions: frozenset[str] = frozenset({"rock"})
    pauli_blocking: bool = False
    components: tuple[tuple[int, np.ndarray], ...] = ()


def generate_events(
    setup: Setup,
    mass_gev: float,
    d_gev_inv: float,
    *,
    n_events: int,
    seed: int,
    width_convention: str,
    survival: bool,
    upstream_m: float,
    radius_margin_m: float,
    window_lengths: float | None = None,
    allocation: ArrayLike | None = None,
    progress: Callable[[int], object] | None = None,
    d_min_gev_inv: float | None = None,
) -> ak.Array:
    """Inject upscatters in front of every fiducial box and decay the HNLs inside it.

    For box k, upscatters are injected between ``upstream_m`` in front of the box and its
    downstream face, in layers (the box itself, the first 5 cm in front of it, then one
    layer per decade of distance): the strata (box, layer). Each gets the same number of
    events, or its share in ``allocation``, so the sample serves decay lengths from
    millimetres to ``upstream_m``; a stratum's weights are normalised by its own attempts,
    so any allocation with every stratum sampled is unbiased. In each layer neutrinos
    enter over a disk centred on the box (radius: the box's transverse circumradius plus
    ``radius_margin_m``, but no more than the layer's largest distance to the box's back
    face, so only HNLs flying at more than 45 degrees could come from outside). SIREN
    follows each layer's lines through the sectors that meet its cylinder only
    (:func:`t2khnl.geometry.restrict.restrict`: the same geometry there, fewer sectors to
    intersect). Only decays in box k are credited, so the boxes' and layers' samples add up.

    Upscatters in ``setup.aim_regions`` (the rock, uniform across the beam) are moved
    across the beam (the whole event, not its kinematics) so the HNL line crosses the box's
    plane
    where the neutrino line would have: with a transversally uniform beam and medium this
    leaves the physical distribution unchanged and the weight as it is, and it keeps
    HNLs made far upstream at an angle from being lost outside the disk.

    Args:
        setup: detector, cross sections, flux and primary.
        mass_gev: HNL mass [GeV].
        d_gev_inv: dipole coupling [GeV^-1].
        n_events: injection attempts, shared equally between the boxes and layers.
        seed: random seed.
        width_convention: see :func:`t2khnl.model.width_nu_gamma_gev`.
        survival: include the survival probability from the vertex to the box.
        window_lengths: without survival, count only vertices within this many decay
            lengths of the box (see :func:`t2khnl.decay.decay_probability`).
        upstream_m: length of the injection region in front of each box [m].
        radius_margin_m: margin of the injection disk around the box [m].
        allocation: shares of ``n_events`` per stratum, shape (boxes, layers); default
            equal (see :func:`strata_attempts`).
        progress: called with the number of attempts made since its last call.
        d_min_gev_inv: smallest coupling [GeV^-1] the events will be reweighted to
            (:mod:`t2khnl.reweight`; default ``d_gev_inv``). An event is kept if its HNL
            decays in the box with non-zero probability at ``d_gev_inv`` or at
            ``d_min_gev_inv``: a vertex beyond the window (or far enough upstream for its
            survival to underflow) at ``d_gev_inv`` can count at a smaller coupling, whose
            decay length is longer. Such events carry ``weight`` 0.

    Returns:
        One record per event with a non-zero decay probability at ``d_gev_inv`` or
        ``d_min_gev_inv`` (fields in README.md).
    """
    parts = []
    edges = _strata_m(upstream_m)
    bias = injection.energy_bias(setup.detector_model, setup.processes, setup.flux,
                                 primary_pdg=setup.primary_pdg)
    attempts = strata_attempts(n_events, len(setup.boxes), upstream_m, allocation)
    for index, (box, n_box) in enumerate(zip(setup.boxes, attempts, strict=True)):
        front, back = box.centre[2] - box.widths[2] / 2, box.centre[2] + box.widths[2] / 2
        segments = [(front, back)] + [
            (front - far, front - near) for near, far in itertools.pairwise(edges)
        ]
        for layer, ((start, end), n_layer) in enumerate(zip(segments, n_box, strict=True)):
            radius = 0.5 * math.hypot(box.widths[0], box.widths[1]) + min(radius_margin_m,
                                                                           back - start)
            reach = np.array([radius, radius, 0.0]) + _REGION_PAD_M
            sample = injection.inject_upscatters(
                restrict(setup.detector_model, np.r_[box.centre[:2], start] - reach,
                         np.r_[box.centre[:2], end] + reach),
                setup.processes, setup.flux,
                segment_start_m=start, segment_end_m=end, radius_m=radius,
                centre_xy_m=(box.centre[0], box.centre[1]), n_events=n_layer,
                seed=int(np.random.SeedSequence([seed, index, layer]).generate_state(1)[0]),
                primary_pdg=setup.primary_pdg, bias_energy=bias,
                progress=progress,
            )
            rng = np.random.default_rng([seed, index, layer])
            decays = _decays_in_box(rng, sample, index, box, setup, mass_gev, d_gev_inv,
                                    width_convention, survival, window_lengths,
                                    d_min_gev_inv=d_min_gev_inv)
            parts.append(ak.with_field(decays, np.full(len(decays), layer, dtype=np.int32),
                                       "layer"))
    return ak.concatenate(parts)


def strata_attempts(n_events: int, n_boxes: int, upstream_m: float,
                    allocation: ArrayLike | None = None) -> list[list[int]]:
    """Injection attempts per stratum (box, layer) for ``n_events`` in all.

    Args:
        n_events: attempts in all.
        n_boxes: fiducial boxes.
        upstream_m: length of the injection region in front of each box [m] (it sets the
            layers, :func:`_strata_m`).
        allocation: shares per stratum, shape (n_boxes, layers), >= 0 (normalised here);
            default equal. Every stratum gets at least one attempt.

    Returns:
        Attempts per box and layer, summing to ``n_events``.

    Raises:
        InputError: an allocation of the wrong shape, negative or not finite, or more
            strata than events.
    """
    n_layers = len(_strata_m(upstream_m))
    n_strata = n_boxes * n_layers
    if n_events < n_strata:
        msg = f"{n_events} events cannot cover the {n_strata} injection strata (boxes x layers)"
        raise InputError(msg)
    if allocation is None:
        return [_split(n_box, n_layers) for n_box in _split(n_events, n_boxes)]
    shares = np.asarray(allocation, dtype=float)
    if shares.shape != (n_boxes, n_layers) or not np.all(np.isfinite(shares)) or np.any(
            shares < 0) or not shares.sum() > 0:
        msg = (f"allocation must be non-negative shares of shape ({n_boxes}, {n_layers}), got "
               f"{shares.tolist()}")
        raise InputError(msg)
    spare = n_events - n_strata  # one attempt per stratum first, the rest by share
    ideal = spare * shares.ravel() / shares.sum()
    counts = np.floor(ideal).astype(int)
    counts[np.argsort(counts - ideal)[: spare - counts.sum()]] += 1  # largest remainders
    return (counts + 1).reshape(n_boxes, n_layers).tolist()


def _strata_m(upstream_m: float) -> np.ndarray:
    """Distances [m] in front of a box that bound the injection layers in front of it: 0,
    then one layer per decade from :data:`_NEAREST_LAYER_M` out to ``upstream_m``."""
    if upstream_m <= 0:
        return np.array([0.0])
    if upstream_m <= _NEAREST_LAYER_M:
        return np.array([0.0, upstream_m])
    decades = math.ceil(math.log10(upstream_m / _NEAREST_LAYER_M))
    return np.concatenate([[0.0], np.geomspace(_NEAREST_LAYER_M, upstream_m, decades + 1)])


def _aim_vertices(vertex_m: np.ndarray, p3: np.ndarray, aim: np.ndarray,
                  box_z_m: float) -> np.ndarray:
    """Move the ``aim`` vertices across the beam so the HNL line meets the box's mid-plane
    where the neutrino line does (translation invariance of a uniform beam on a medium
    uniform across the beam)."""
    moved = vertex_m.copy()
    aim = aim & (p3[:, 2] > 0)
    lever = (box_z_m - vertex_m[aim, 2]) / p3[aim, 2]
    moved[aim, :2] -= lever[:, None] * p3[aim, :2]
    return moved


def _decays_in_box(
    rng: np.random.Generator,
    sample: injection.UpscatterSample,
    index: int,
    box: Any,
    setup: Setup,
    mass_gev: float,
    d_gev_inv: float,
    width_convention: str,
    survival: bool,
    window_lengths: float | None,
    *,
    d_min_gev_inv: float | None = None,
) -> ak.Array:
    """Give one box's upscatters their channel, incoming neutrino, decay probability, decay
    vertex and e+e- pair; keep those that decay in the box at ``d_gev_inv`` or at
    ``d_min_gev_inv`` (see :func:`generate_events`)."""
    boxes = decay.Boxes((box.name,), box.centre[None, :], box.widths[None, :])
    chosen = nucleons.reassign(rng, sample.energy_gev, sample.target_pdg, sample.hnl_p4_gev,
                               sample.recoil_p4_gev, setup.tables, mass_gev,
                               pauli_blocking=setup.pauli_blocking)
    nu_pdg = _incoming_neutrinos(rng, sample.energy_gev, setup)
    hnl_p4 = chosen.hnl_p4_gev
    upscatter_weight = sample.weight_per_pot * chosen.weight_factor
    p3 = hnl_p4[:, 1:]
    regions = np.asarray(setup.region_of(sample.sector))
    aim = np.isin(regions, list(setup.aim_regions))
    origin = _aim_vertices(sample.vertex_m, p3, aim, float(box.centre[2]))
    momentum = np.linalg.norm(p3, axis=1)
    length = np.asarray(
        model.decay_length_m(mass_gev, d_gev_inv, momentum, convention=width_convention),
        dtype=float,
    )
    cross = decay.crossings(origin, p3, boxes)
    prob = decay.decay_probability(cross.t_in_m, cross.t_out_m, length[:, None],
                                   survival=survival, window_lengths=window_lengths)
    reach = prob
    if d_min_gev_inv is not None and d_min_gev_inv < d_gev_inv:
        # the decay length at d_min, as t2khnl.reweight scales it
        longest = length[:, None] / (d_min_gev_inv / d_gev_inv) ** 2
        with np.errstate(under="ignore"):
            at_min = decay.decay_probability(cross.t_in_m, cross.t_out_m, longest,
                                             survival=survival, window_lengths=window_lengths)
        reach = np.where(prob > 0, prob, at_min)
    _, vertex = decay.sample_vertices(rng, origin, p3, cross, length, reach)
    keep = (reach[:, 0] > 0) & (upscatter_weight > 0)
    e_plus, e_minus, nu_out = model.sample_pair(rng, hnl_p4[keep], mass_gev)
    n_kept = int(keep.sum())
    columns: dict[str, Any] = {
        "weight": upscatter_weight[keep] * prob[keep, 0],
        "upscatter_weight": upscatter_weight[keep],
        "decay_probability": prob[keep, 0],
        "e_nu": sample.energy_gev[keep],
        "nu_pdg": nu_pdg[keep],
        "target_pdg": sample.target_pdg[keep].astype(np.int32),
        "target_mass_gev": _scatterer_masses(chosen.channel, sample.target_mass_gev,
                                             setup.tables)[keep],
        "hnl_pdg": np.where(nu_pdg[keep] > 0, HNL_PDG, -HNL_PDG).astype(np.int32),
        "channel": chosen.channel[keep],
        "q2_gev2": chosen.q2_gev2[keep],
        "pauli_factor": chosen.weight_factor[keep],
        "region_id": _codes(regions[keep]),
        "fv_index": np.full(n_kept, index, dtype=np.int32),
        "t_in_m": cross.t_in_m[keep, 0],
        "t_out_m": cross.t_out_m[keep, 0],
        "decay_length_m": length[keep],
    }
    for prefix, values in (("vtx_", origin[keep]), ("dec_", vertex[keep]),
                           ("nu_d", sample.nu_direction[keep])):
        for axis, column in zip("xyz", values.T, strict=True):
            columns[f"{prefix}{axis}"] = column
    for name, p4 in (("hnl", hnl_p4[keep]), ("ep", e_plus), ("em", e_minus), ("dnu", nu_out)):
        for axis, column in zip(("e", "px", "py", "pz"), p4.T, strict=True):
            columns[f"{name}_{axis}"] = column
    return ak.Array(columns)


def _scatterer_masses(channel: np.ndarray, nucleus_mass_gev: np.ndarray,
                      tables: Mapping[tuple[int, str], xsec.CrossSectionTable]) -> np.ndarray:
    """Mass [GeV] of what each upscatter's kinematics scattered on, at rest: the nucleus
    (SIREN's mass, coherent events) or the free nucleon of an incoherent channel (the mass
    :func:`t2khnl.nucleons.reassign` rebuilt the event with)."""
    masses = np.array(nucleus_mass_gev, dtype=float)
    for name, free_pdg in xsec.FREE_NUCLEON_PDG.items():
        mine = channel == nucleons.CHANNEL_CODES[name]
        if mine.any():
            masses[mine] = tables[(free_pdg, name)].scatterer_mass_gev
    return masses


def _incoming_neutrinos(rng: np.random.Generator, energy_gev: np.ndarray,
                        setup: Setup) -> np.ndarray:
    """PDG code of each event's incoming neutrino (int32): drawn from the setup's flux
    components at the event's energy, each interpolated linearly between the flux nodes
    as SIREN interpolates their sum (equal cross sections: the components' shares of the
    flux are their shares of the upscatters)."""
    if not setup.components:
        return np.full(energy_gev.size, setup.primary_pdg, dtype=np.int32)
    nodes = setup.flux[0]
    shares = np.cumsum([np.interp(energy_gev, nodes, values)
                        for _, values in setup.components], axis=0)
    picked = np.sum(rng.random(energy_gev.size) * shares[-1] >= shares[:-1], axis=0)
    return np.array([pdg for pdg, _ in setup.components], dtype=np.int32)[picked]


def _codes(regions: np.ndarray) -> np.ndarray:
    """Integer region codes (index in :data:`t2khnl.geometry.REGIONS`)."""
    from .geometry import REGIONS

    lookup = {name: i for i, name in enumerate(REGIONS)}
    return np.array([lookup[r] for r in regions], dtype=np.int32)


def _split_expectation(
    weight: np.ndarray, label: np.ndarray, names: Sequence[str], pot: float
) -> dict[str, dict[str, float]]:
    """Expected decays and MC error for ``pot`` POT, per label value (index into names)."""
    return {
        name: {
            "expected": float(weight[label == i].sum() * pot),
            "mc_error": float(math.sqrt((weight[label == i] ** 2).sum()) * pot),
        }
        for i, name in enumerate(names)
    }


def _expectations(events: ak.Array, pot: float, boxes: Sequence[str]) -> dict[str, Any]:
    """Expected decays for ``pot`` POT with their MC error, in all, by region, by box, by
    upscattering channel and by incoming neutrino."""
    from .geometry import REGIONS

    def column(name: str) -> np.ndarray:
        return ak.to_numpy(events[name]) if len(events) else np.zeros(0, dtype=int)

    weight = ak.to_numpy(events["weight"]) if len(events) else np.zeros(0)
    antineutrino = (column("nu_pdg") < 0).astype(int)
    return {
        "expected_decays": float(weight.sum() * pot),
        "expected_decays_mc_error": float(math.sqrt((weight**2).sum()) * pot),
        "expected_by_region": _split_expectation(weight, column("region_id"), REGIONS, pot),
        "expected_by_fiducial_volume": _split_expectation(weight, column("fv_index"), boxes,
                                                          pot),
        "expected_by_channel": _split_expectation(weight, column("channel"),
                                                  list(nucleons.CHANNEL_CODES), pot),
        "expected_by_neutrino": _split_expectation(weight, antineutrino,
                                                   ["nu_mu", "nu_mu_bar"], pot),
    }


#: What each width convention is, for the ntuple metadata (t2khnl.model).
_WIDTH_NOTES = {
    "corrected": "Gamma(N -> nu gamma) = d^2 m^3 / (4 pi), derived from the Lagrangian with "
    "explicit Dirac matrices in tests/test_lagrangian.py; total width adds N -> nu e+ e-",
    "darknews": "Gamma(N -> nu gamma) = d^2 m^3 / (8 pi), DarkNews 0.4.8's Dirac width, half "
    "the Lagrangian's (tests/test_lagrangian.py, docs/darknews.md)",
    "siren": "Gamma(N -> nu gamma) = d^2 m^3 / (4 pi), SIREN's C++ HNLDipoleDecay (equal to "
    "the Lagrangian's, tests/test_lagrangian.py)",
}
#: Metadata two simulations must share to be pooled (:func:`pool`).
_POOLED_KEYS = ("mass_gev", "d_gev_inv", "detector", "beam", "geometry", "width_convention",
                "channels", "survival_to_fiducial", "primary", "injection_upstream_m",
                "fiducial_volumes", "pauli_blocking", "wrong_sign_component")


def pool(first: Simulation, second: Simulation) -> Simulation:
    """Two independent simulations of the same model point and injection, as one sample.

    Each stratum's weights are normalised by its own attempts (:func:`generate_events`):
    in a stratum h with n_h attempts in ``first`` and n'_h in ``second``, an event of
    ``first`` keeps n_h / (n_h + n'_h) of its weights (``weight``, ``upscatter_weight``)
    and one of ``second`` n'_h / (n_h + n'_h). The pooled estimate is then the
    attempt-weighted mean of the two, unbiased as each is, and the pooled sample has the
    strata of ``first`` + ``second`` attempts (the allocations may differ).

    Args:
        first: a simulation (events and metadata of :func:`simulate`, or of this function).
        second: another one with other seeds.

    Returns:
        The pooled sample; its metadata are ``second``'s with the attempts, event counts,
        expected decays and seeds of both.

    Raises:
        InputError: the simulations differ in model point, detector, beam, preset
            settings or injection.
    """
    differ = [k for k in _POOLED_KEYS if first.metadata[k] != second.metadata[k]]
    if differ or first.metadata["strata"]["layer_edges_m"] != second.metadata["strata"][
            "layer_edges_m"]:
        msg = f"cannot pool simulations that differ in {', '.join(differ) or 'strata'}"
        raise InputError(msg)
    attempts = [np.asarray(sim.metadata["strata"]["attempts"], dtype=float)
                for sim in (first, second)]
    total = attempts[0] + attempts[1]
    parts = []
    for sim, own in zip((first, second), attempts, strict=True):
        ev = sim.events
        share = (own / total)[ak.to_numpy(ev["fv_index"]), ak.to_numpy(ev["layer"])]
        ev = ak.with_field(ev, ak.to_numpy(ev["weight"]) * share, "weight")
        parts.append(ak.with_field(ev, ak.to_numpy(ev["upscatter_weight"]) * share,
                                   "upscatter_weight"))
    events = ak.concatenate(parts)
    meta = second.metadata
    boxes = [box["name"] for box in meta["fiducial_volumes"]]
    seeds = [first.metadata.get("attempt_seeds", [first.metadata["seed"]]),
             [second.metadata["seed"]]]
    metadata = {
        **meta, **_expectations(events, meta["nominal_pot"], boxes),
        "strata": {**meta["strata"], "attempts": total.astype(int).tolist()},
        "n_injected": first.metadata["n_injected"] + meta["n_injected"],
        "n_events": len(events), "seed": seeds[0][0], "attempt_seeds": seeds[0] + seeds[1],
    }
    return Simulation(events, metadata)


def _metadata(
    events: ak.Array, *, cfg: dict[str, Any], geometry: Any, **run: Any
) -> dict[str, Any]:
    """Describe a run; the expected decays use the preset's nominal exposure."""
    import DarkNews

    from ._siren import load as load_siren

    siren = load_siren()

    from .geometry import REGIONS

    detector, beam = run["detector"], run["beam"]
    pot = cfg["exposure_pot"][detector][beam]
    decay_boxes = geometry.decay_boxes(cfg["decay_region"])
    boxes = [b.name for b in decay_boxes]
    return {
        "mass_gev": run["mass_gev"],
        "d_gev_inv": run["d_gev_inv"],
        "mu_tr_gev_inv": float(model.mu_tr_from_d(run["d_gev_inv"])),
        "detector": detector,
        "beam": beam,
        "preset": cfg["name"],
        "geometry": f"{geometry.name}/{geometry.variant}",
        "width_convention": cfg["width_convention"],
        "width_convention_note": _WIDTH_NOTES[cfg["width_convention"]],
        "channels": cfg["channels"],
        "survival_to_fiducial": cfg["survival_to_fiducial"],
        "decay_region": cfg["decay_region"],
        "primary": "nu_mu" if beam == "fhc" or cfg["rhc_primary"] == "nu_mu" else "nu_mu_bar",
        "wrong_sign_component": cfg["wrong_sign_component"],
        "pauli_blocking": cfg["pauli_blocking"],
        "channel_codes": nucleons.CHANNEL_CODES,
        "weight_convention": "expected HNL decays in the boxes of fiducial_volumes (the preset's "
        "decay_region) per POT, before "
        "BR(ee), cuts and efficiency; sum(weight) * POT = expected decays",
        "nominal_pot": pot,
        **_expectations(events, pot, boxes),
        "regions": list(REGIONS),
        "fiducial_volumes": [
            {"name": b.name, "centre_m": b.centre.tolist(), "widths_m": b.widths.tolist()}
            for b in decay_boxes
        ],
        "injection_upstream_m": run["upstream_m"],
        "strata": {"layer_edges_m": _strata_m(run["upstream_m"]).tolist(),
                   "attempts": run["strata"]},
        "targets_pdg": run["targets"],
        "n_injected": run["n_events"],
        "n_events": len(events),
        "seed": run["seed"],
        "versions": {"t2khnl": __version__, "siren": siren.__version__,
                     "DarkNews": DarkNews.__version__},
    }
