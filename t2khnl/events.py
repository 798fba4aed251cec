"""The injection-and-decay engine: SIREN upscatters in strata in front of each fiducial box,
exact decays inside it, e+e- pairs (:func:`generate_events`).

:mod:`t2khnl.generate` builds its :class:`Setup` from a preset and a detector; this module
only needs the setup and the model point. Each box's sample only credits decays in that
box, and each stratum's weights are normalised by its own attempts, so the strata add up.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import awkward as ak
import numpy as np

from . import decay, injection, model, nucleons, xsec
from .errors import InputError
from .geometry.restrict import restrict
from .injection import HNL_PDG

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from .config import WidthConvention

#: Depth [m] of the first injection layer in front of a fiducial box; further layers
#: span a decade of distance each, so short and long decay lengths are both sampled.
_NEAREST_LAYER_M = 0.05
#: Margin [m] around a stratum's injection cylinder within which SIREN's model keeps its
#: sectors (:func:`t2khnl.geometry.restrict.restrict`); it covers the 1 um thick start disk.
_REGION_PAD_M = 1e-3


def _split(n_events: int, n_parts: int) -> list[int]:
    """Split ``n_events`` into ``n_parts`` near-equal positive parts."""
    base, extra = divmod(n_events, n_parts)
    return [base + (i < extra) for i in range(n_parts)]



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
    width_convention: WidthConvention,
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
    width_convention: WidthConvention,
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

