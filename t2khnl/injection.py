"""Upscattering vertices nu_mu A -> N A sampled with SIREN's C++ injector, with per-POT weights.

Only the primary interaction is simulated here (the neutrino, its vertex [m], the target
nucleus and the HNL four-momentum [GeV]); the HNL decay is left to the caller.
:func:`inject_upscatters` draws the energy from the flux times a cross-section bias b(E)
(:func:`energy_bias`), the direction along +z and the vertex on a thin disk with a depth
proportional to the interaction density, all in SIREN's C++ (no per-event Python). The
weights are computed here, not by SIREN's ``Weighter.EventWeight`` (NaN with
``HNLDipoleFromTable``): w = pi R^2 Phi_k / G_k P_int(E, line) / N_attempts [upscatters /
POT], which sums to the expected upscatters per POT in the injection cylinder.

Details: docs/injection.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._siren import load as load_siren
from .errors import InputError
from .xsec import INERT_CM2

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

log = logging.getLogger(__name__)

#: PDG code SIREN gives the HNL (ParticleType.N4); N4Bar is -5914.
HNL_PDG = 5914
#: Height of the thin cylinder the neutrinos start from [m]; only its face matters.
_DISK_HEIGHT_M = 1e-6
_PROTON_PDG = 1000010010
#: Attempts between two calls of the progress callback.
_PROGRESS_EVERY = 1000


class UpscatterSample(NamedTuple):
    """Upscattering events, one row per successful injection.

    Attributes:
        n_injected: number of injection attempts, failed ones included (they count in the
            normalisation; the weights below already divide by it).
        energy_gev: neutrino energy [GeV], shape (n,).
        vertex_m: upscattering vertex in SIREN detector coordinates [m], shape (n, 3).
        target_pdg: PDG code of the target nucleus (e.g. 1000060120 for C12), shape (n,).
        hnl_p4_gev: HNL four-momentum (E, px, py, pz) [GeV], shape (n, 4).
        recoil_p4_gev: recoiling nucleus four-momentum (E, px, py, pz) [GeV], shape (n, 4).
        weight_per_pot: expected number of upscatters per proton on target that the event
            stands for [1/POT], shape (n,). Its sum over events in a region estimates the
            number of upscatters per POT there.
        sector: name of the detector-model volume containing the vertex, shape (n,).
        hnl_pdg: PDG code of the HNL (5914 for N, -5914 for N-bar), shape (n,).
        nu_direction: unit vector of the incoming neutrino's momentum (SIREN detector
            coordinates), shape (n, 3).
        target_mass_gev: mass of the target nucleus SIREN's kinematics used [GeV] (its
            atomic-mass table: A u for C12), shape (n,). With the target at rest,
            nu + target = N + recoil holds exactly with this mass.
    """

    n_injected: int
    energy_gev: NDArray[np.float64]
    vertex_m: NDArray[np.float64]
    target_pdg: NDArray[np.int64]
    hnl_p4_gev: NDArray[np.float64]
    recoil_p4_gev: NDArray[np.float64]
    weight_per_pot: NDArray[np.float64]
    sector: NDArray[np.str_]
    hnl_pdg: NDArray[np.int64]
    nu_direction: NDArray[np.float64]
    target_mass_gev: NDArray[np.float64]


def _siren() -> Any:
    """Import siren lazily (it is heavy, and prints warnings at import)."""
    return load_siren()


def _check_flux(flux: Sequence[ArrayLike]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Validate a flux given as (energies [GeV], flux [nu / m^2 / GeV / POT])."""
    try:
        energies_raw, values_raw = flux
    except (TypeError, ValueError) as exc:
        msg = "flux must be a pair (energy_gev, flux_per_m2_gev_pot) of arrays"
        raise InputError(msg) from exc
    energies = np.asarray(energies_raw, dtype=float)
    values = np.asarray(values_raw, dtype=float)
    if energies.ndim != 1 or energies.shape != values.shape or energies.size < 2:
        msg = (
            "flux energies and values must be 1-d arrays of the same length >= 2, got "
            f"shapes {energies.shape} and {values.shape}"
        )
        raise InputError(msg)
    if not np.all(np.isfinite(energies)) or not np.all(np.isfinite(values)):
        msg = "flux energies and values must be finite"
        raise InputError(msg)
    if np.any(np.diff(energies) <= 0):
        msg = "flux energies must be strictly increasing"
        raise InputError(msg)
    if np.any(values < 0) or not np.any(values > 0):
        msg = "flux values must be non-negative and not all zero"
        raise InputError(msg)
    return energies, values


def _lowest_threshold_gev(siren: Any, detector_model: Any, processes: Sequence[Any]) -> float:
    """Lowest interaction threshold over all processes and their targets [GeV]."""
    thresholds = []
    for process in processes:
        for target in process.GetPossibleTargets():
            record = siren.dataclasses.InteractionRecord()
            record.target_mass = detector_model.GetTargetMass(target)
            thresholds.append(float(process.InteractionThreshold(record)))
    if not thresholds:
        msg = "the processes have no targets"
        raise InputError(msg)
    return min(thresholds)


#: The sets of nuclei without cross sections already reported by _warn_missing_targets.
_WARNED_MISSING: set[tuple[int, ...]] = set()


def _warn_missing_targets(detector_model: Any, processes: Sequence[Any]) -> None:
    """Log the nuclei of the detector model that no process has a table for."""
    covered = {int(t) for process in processes for t in process.GetPossibleTargets()}
    present: set[int] = set()
    materials = detector_model.Materials
    index = 0
    while materials.HasMaterial(index):
        present.update(int(t) for t in materials.GetMaterialTargets(index))
        index += 1
    missing = tuple(sorted(t for t in present - covered if 1000000000 <= t < 1100000000))
    if missing and missing not in _WARNED_MISSING:  # once per process, not per stratum
        _WARNED_MISSING.add(missing)
        log.warning("no cross section for nuclei %s: they never interact", list(missing))


def _check_table_range(
    siren: Any, processes: Sequence[Any], primary: Any, e_min_gev: float, e_max_gev: float
) -> None:
    """Fail early (not mid-run) when a cross-section table does not span the flux."""
    for process in processes:
        if primary not in process.GetPossiblePrimaries():
            msg = f"process {process!r} does not accept primary {primary}"
            raise InputError(msg)
        for target in process.GetPossibleTargets():
            for energy in (e_min_gev, e_max_gev):
                try:
                    process.TotalCrossSection(primary, energy, target)
                except RuntimeError as exc:
                    msg = (
                        f"cross section for {target} does not cover E = {energy:g} GeV "
                        f"(flux range {e_min_gev:g}-{e_max_gev:g} GeV): {exc}"
                    )
                    raise InputError(msg) from exc


def _energy_bias(siren: Any, detector_model: Any, processes: Sequence[Any], primary: Any,
                 energies: NDArray[np.float64], e_min: float, e_max: float,
                 ) -> NDArray[np.float64]:
    """b(E) at ``energies`` [GeV]: sum over targets of sigma_T(E) / max sigma_T.

    sigma_T sums the processes of target T; a target whose cross section never exceeds
    :data:`t2khnl.xsec.INERT_CM2` (SIREN's class needs a hydrogen entry in every object, see
    :func:`t2khnl.siren_tables.siren_cross_sections`) is left out. Nodes outside [e_min, e_max]
    take the value at the nearer end (SIREN interpolates the generation table at e_min
    from its neighbours).
    """
    nodes = np.clip(energies, e_min, e_max)
    sigma: dict[int, NDArray[np.float64]] = {}
    for process in processes:
        for target in process.GetPossibleTargets():
            record = siren.dataclasses.InteractionRecord()
            record.target_mass = detector_model.GetTargetMass(target)
            threshold = float(process.InteractionThreshold(record))
            # float(np.squeeze(...)): SIREN's Python (DarkNews) cross sections return a
            # one-element array where the C++ ones return a float
            values = np.array([float(np.squeeze(process.TotalCrossSection(primary, float(e),
                                                                           target)))
                               if e > threshold else 0.0 for e in nodes])
            sigma[int(target)] = sigma.get(int(target), 0.0) + values
    bias = np.zeros(nodes.size)
    for values in sigma.values():
        if values.max() > INERT_CM2:
            bias += values / values.max()
    return bias


def _energy_range(siren: Any, detector_model: Any, processes: Sequence[Any],
                  energies: NDArray[np.float64]) -> tuple[float, float, float]:
    """(lowest threshold, e_min, e_max) [GeV]: the flux range above the lowest threshold."""
    e_thr = _lowest_threshold_gev(siren, detector_model, processes)
    e_min = max(e_thr, float(energies[0]))
    e_max = float(energies[-1])
    if e_min >= e_max:
        msg = f"the flux ends at {e_max:g} GeV, below the interaction threshold {e_thr:g} GeV"
        raise InputError(msg)
    return e_thr, e_min, e_max


def energy_bias(detector_model: Any, processes: Sequence[Any], flux: Sequence[ArrayLike],
                *, primary_pdg: int = 14) -> NDArray[np.float64]:
    """The importance function b(E) of :func:`inject_upscatters` at the flux energies.

    b(E) = sum over the processes' targets T of sigma_T(E) / max sigma_T (dimensionless).
    Computing it costs ~2 us per (target, flux node), ~20 ms for ND280's 24 nuclei:
    compute it once for injections that share processes and flux.

    Args:
        detector_model (siren.detector.DetectorModel): for the targets' masses.
        processes (Sequence[siren.interactions.CrossSection]): the cross sections.
        flux (Sequence[ArrayLike]): pair (energies [GeV], flux [nu / m^2 / GeV / POT]).
        primary_pdg (int): PDG code of the neutrino.

    Returns:
        b at each flux energy, shape of the flux's energies.
    """
    energies, _ = _check_flux(flux)
    siren = _siren()
    _, e_min, e_max = _energy_range(siren, detector_model, list(processes), energies)
    return _energy_bias(siren, detector_model, list(processes),
                        siren.dataclasses.ParticleType(int(primary_pdg)), energies, e_min, e_max)


def _bin_weights(flux_gen: Any, flux_phys: Any, nodes_gev: NDArray[np.float64],
                 e_min: float, e_max: float, energy_gev: NDArray[np.float64],
                 ) -> NDArray[np.float64]:
    """Phi_k / G_k [nu / m^2 / POT] of the flux bin holding each energy [GeV].

    The bins are those of SIREN's inverse-CDF sampler (``TabulatedFluxDistribution::
    ComputeCDF``): edges at e_min, the table nodes strictly inside (e_min, e_max) and e_max,
    with trapezoidal contents; it draws E uniformly inside a bin. G_k is the probability of
    bin k under ``flux_gen``, Phi_k the flux content of the same bin under ``flux_phys``
    [nu / m^2 / POT].
    """
    inside = nodes_gev[(nodes_gev > e_min) & (nodes_gev < e_max)]
    edges = np.concatenate([[e_min], inside, [e_max]])

    def contents(table: Any) -> NDArray[np.float64]:
        values = np.array([table.SampleUnnormedPDF(float(e)) for e in edges])
        return 0.5 * (values[1:] + values[:-1]) * np.diff(edges)

    flux = contents(flux_phys)
    generation = contents(flux_gen)
    probability = generation / generation.sum()
    ratio = np.divide(flux, probability, out=np.zeros_like(flux), where=probability > 0)
    k = np.clip(np.searchsorted(edges, energy_gev, side="right") - 1, 0, ratio.size - 1)
    return ratio[k]


def inject_upscatters(
    detector_model: Any,
    processes: Sequence[Any],
    flux: Sequence[ArrayLike],
    *,
    segment_start_m: float,
    segment_end_m: float,
    radius_m: float,
    n_events: int,
    seed: int,
    centre_xy_m: tuple[float, float] = (0.0, 0.0),
    primary_pdg: int = 14,
    with_sector: bool = True,
    bias_energy: bool | ArrayLike = True,
    progress: Callable[[int], object] | None = None,
) -> UpscatterSample:
    """Sample upscattering vertices in a cylinder along the beam (+z) and weight them per POT.

    Neutrinos arrive along +z, uniformly over a disk of radius ``radius_m`` centred on
    ``centre_xy_m`` (SIREN detector coordinates); the vertex lies between
    ``segment_start_m`` and ``segment_end_m`` (clipped to the detector model's world) and
    is drawn proportionally to the interaction density n_T(x) sigma_T(E).

    Args:
        detector_model (siren.detector.DetectorModel): geometry and materials.
        processes (Sequence[siren.interactions.CrossSection]): cross sections of the
            primary, e.g. one ``HNLDipoleFromTable`` per helicity channel. Every target
            present in the geometry along the segment should have a table.
        flux (Sequence[ArrayLike]): pair (energies [GeV], flux [nu / m^2 / GeV / POT]),
            linearly interpolated; uniform over the disk.
        segment_start_m (float): upstream end of the injection segment, z [m].
        segment_end_m (float): downstream end of the injection segment, z [m].
        radius_m (float): radius of the transverse disk [m].
        n_events (int): number of injection attempts (failed attempts included).
        seed (int): seed of SIREN's random number generator; same seed, same events.
        centre_xy_m (tuple[float, float]): transverse centre (x, y) of the disk [m];
            defaults to the beam axis.
        primary_pdg (int): PDG code of the neutrino; 14 (nu_mu, default) or -14.
        with_sector (bool): look up the detector volume name at each vertex (a few
            microseconds per event); defaults to True.
        bias_energy (bool | ArrayLike): draw energies from flux x b(E) (importance
            sampling, docs/injection.md) rather than from the flux; defaults to
            True. An array is b(E) at the flux energies, from :func:`energy_bias` (it
            depends on the processes and the flux only: strata share it).
        progress (Callable[[int], object] | None): called with the number of attempts
            made since its previous call (every 1000 attempts and at the end).

    Returns:
        UpscatterSample: the successful events, with ``n_injected = n_events``.

    Raises:
        InputError: a non-positive ``n_events`` or ``radius_m``, an empty or reversed
            segment, no processes, a malformed flux, or a cross-section table that does
            not span the flux energies above threshold.
    """
    if isinstance(n_events, bool) or not isinstance(n_events, int | np.integer):
        msg = f"n_events must be an integer, got {n_events!r}"
        raise InputError(msg)
    if n_events <= 0:
        msg = f"n_events must be positive, got {n_events}"
        raise InputError(msg)
    if not radius_m > 0:
        msg = f"radius_m must be positive, got {radius_m}"
        raise InputError(msg)
    if not segment_end_m > segment_start_m:
        msg = (
            f"segment_end_m ({segment_end_m}) must be larger than segment_start_m "
            f"({segment_start_m})"
        )
        raise InputError(msg)
    processes = list(processes)
    if not processes:
        msg = "at least one cross section (process) is needed"
        raise InputError(msg)
    energies, values = _check_flux(flux)

    siren = _siren()
    sdc = siren.dataclasses
    dists = siren.distributions
    inj_mod = siren.injection
    smath = siren.math

    primary = sdc.ParticleType(int(primary_pdg))
    e_thr, e_min, e_max = _energy_range(siren, detector_model, processes, energies)
    _check_table_range(siren, processes, primary, e_min, e_max)
    _warn_missing_targets(detector_model, processes)

    energy_list = energies.tolist()
    value_list = values.tolist()
    flux_phys = dists.TabulatedFluxDistribution(energy_list, value_list, True)
    flux_in_range = dists.TabulatedFluxDistribution(e_min, e_max, energy_list, value_list, False)
    if not flux_in_range.GetIntegral() > 0:
        msg = f"the flux is zero above the interaction threshold {e_thr:g} GeV"
        raise InputError(msg)
    flux_gen = flux_in_range
    if bias_energy is not False:
        bias = (_energy_bias(siren, detector_model, processes, primary, energies, e_min, e_max)
                if bias_energy is True else np.asarray(bias_energy, dtype=float))
        if bias.shape != energies.shape:
            msg = f"energy bias has shape {bias.shape}, the flux {energies.shape}"
            raise InputError(msg)
        if not np.any(bias * values > 0):
            msg = f"no cross section is open where the flux is, above {e_min:g} GeV"
            raise InputError(msg)
        flux_gen = dists.TabulatedFluxDistribution(e_min, e_max, energy_list,
                                                   (values * bias).tolist(), False)
    direction = dists.FixedDirection(smath.Vector3D(0.0, 0.0, 1.0))
    disk = siren.geometry.Cylinder(
        siren.geometry.Placement(
            smath.Vector3D(
                float(centre_xy_m[0]),
                float(centre_xy_m[1]),
                float(segment_start_m) - 0.5 * _DISK_HEIGHT_M,
            )
        ),
        float(radius_m),
        0.0,
        _DISK_HEIGHT_M,
    )
    position = dists.FixedTargetPositionDistribution(
        disk, float(segment_end_m) - float(segment_start_m)
    )

    collection = siren.interactions.InteractionCollection(primary, processes)
    mass = dists.PrimaryMass(0.0)
    helicity = dists.PrimaryNeutrinoHelicityDistribution()
    injection_process = inj_mod.PrimaryInjectionProcess(primary, collection)
    injection_process.distributions = [mass, helicity, flux_gen, direction, position]
    physical_process = inj_mod.PhysicalProcess(primary, collection)
    physical_process.distributions = [mass, helicity, flux_phys, direction]

    random = siren.utilities.SIREN_random(int(seed))
    injector = inj_mod._Injector(int(n_events), detector_model, injection_process, [], random)
    weighter = inj_mod._Weighter([injector], detector_model, physical_process, [])

    log.info(
        "injecting %d upscatters: z in [%g, %g] m, r < %g m, E in [%g, %g] GeV",
        n_events,
        segment_start_m,
        segment_end_m,
        radius_m,
        e_min,
        e_max,
    )
    hnl_types = {int(sdc.ParticleType.N4), int(sdc.ParticleType.N4Bar)}
    vertex_out = np.empty((n_events, 3))
    target_out = np.empty(n_events, dtype=np.int64)
    hnl_out = np.empty((n_events, 4))
    recoil_out = np.empty((n_events, 4))
    p_int_out = np.empty(n_events)
    hnl_pdg_out = np.empty(n_events, dtype=np.int64)
    nu_p4_out = np.empty((n_events, 4))
    target_mass_out = np.empty(n_events)
    sectors: list[str] = []
    n_ok = 0
    # bound once: attribute lookups through pybind11 cost microseconds per event
    generate_event = injector.GenerateEvent
    interaction_probabilities = weighter.GetInteractionProbabilities
    containing_sector = detector_model.GetContainingSector
    detector_position, vector3 = siren.detector.DetectorPosition, smath.Vector3D
    for attempt in range(n_events):
        if progress is not None and attempt and attempt % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
        tree = generate_event()
        datums = tree.tree
        if len(datums) == 0:
            continue  # failed attempt: SIREN returns an empty tree (EventWeight would be 1/N)
        record = datums[0].record
        signature = record.signature
        secondary_types = signature.secondary_types
        i_hnl = 0 if int(secondary_types[0]) in hnl_types else 1
        momenta = record.secondary_momenta
        nu_p4_out[n_ok] = record.primary_momentum
        target_mass_out[n_ok] = record.target_mass
        vertex = record.interaction_vertex
        vertex_out[n_ok] = vertex
        target_out[n_ok] = int(signature.target_type)
        hnl_out[n_ok] = momenta[i_hnl]
        recoil_out[n_ok] = momenta[1 - i_hnl]
        hnl_pdg_out[n_ok] = int(secondary_types[i_hnl])
        p_int_out[n_ok] = interaction_probabilities(tree, 0)[0]
        if with_sector:
            sectors.append(containing_sector(detector_position(vector3(vertex))).name)
        n_ok += 1

    if progress is not None:
        progress(n_events - (n_events - 1) // _PROGRESS_EVERY * _PROGRESS_EVERY)
    energy_out = nu_p4_out[:n_ok, 0]
    per_bin = _bin_weights(flux_gen, flux_in_range, energies, e_min, e_max, energy_out)
    weight = math.pi * float(radius_m) ** 2 * per_bin * p_int_out[:n_ok] / n_events
    n_bad = int(np.count_nonzero(~np.isfinite(weight)))
    if n_bad:
        log.warning("%d of %d events have a non-finite weight; set to 0", n_bad, n_ok)
        weight = np.where(np.isfinite(weight), weight, 0.0)
    log.info(
        "%d of %d attempts succeeded; %.4g upscatters per POT in the cylinder",
        n_ok,
        n_events,
        float(weight.sum()),
    )
    return UpscatterSample(
        n_injected=int(n_events),
        energy_gev=energy_out.copy(),
        vertex_m=vertex_out[:n_ok].copy(),
        target_pdg=target_out[:n_ok].copy(),
        hnl_p4_gev=hnl_out[:n_ok].copy(),
        recoil_p4_gev=recoil_out[:n_ok].copy(),
        weight_per_pot=weight,
        sector=np.array(sectors if with_sector else [""] * n_ok, dtype=np.str_),
        hnl_pdg=hnl_pdg_out[:n_ok].copy(),
        nu_direction=nu_p4_out[:n_ok, 1:] / np.linalg.norm(nu_p4_out[:n_ok, 1:], axis=1,
                                                         keepdims=True),
        target_mass_gev=target_mass_out[:n_ok].copy(),
    )
