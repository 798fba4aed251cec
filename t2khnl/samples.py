"""What a simulated sample says of itself: its metadata (model point, preset settings,
expected decays for the nominal exposure, strata) and the pooling of two samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, NotRequired, TypedDict, get_args

import awkward as ak
import numpy as np

from . import model, nucleons
from ._version import __version__
from .errors import InputError

if TYPE_CHECKING:
    from .config import Preset, WidthConvention
    from .geometry import DetectorGeometry


class Expectation(TypedDict):
    """Expected decays in a part of a sample.

    Attributes:
        expected: expected HNL decays in the fiducial volumes for the nominal exposure.
        mc_error: its Monte Carlo error (same unit).
    """

    expected: float
    mc_error: float


class Expectations(TypedDict):
    """Expected decays for the nominal exposure (``nominal_pot``) with their MC errors.

    Attributes:
        expected_decays: expected HNL decays (every channel) in the fiducial volumes,
            sum(weight) x POT.
        expected_decays_mc_error: its Monte Carlo error.
        expected_by_region: split by the upscatter's region (``regions``).
        expected_by_fiducial_volume: split by the box of the decay (``fiducial_volumes``).
        expected_by_channel: split by upscattering channel (``channel_codes``).
        expected_by_neutrino: split by incoming neutrino (``nu_mu``, ``nu_mu_bar``).
    """

    expected_decays: float
    expected_decays_mc_error: float
    expected_by_region: dict[str, Expectation]
    expected_by_fiducial_volume: dict[str, Expectation]
    expected_by_channel: dict[str, Expectation]
    expected_by_neutrino: dict[str, Expectation]


class FiducialVolume(TypedDict):
    """A box decays are counted in: its name, centre and full widths [m]."""

    name: str
    centre_m: list[float]
    widths_m: list[float]


class Strata(TypedDict):
    """The injection strata (:func:`t2khnl.events.generate_events`).

    Attributes:
        layer_edges_m: edges of the upstream layers [m] before each box.
        attempts: injection attempts per (box, layer).
    """

    layer_edges_m: list[float]
    attempts: list[list[int]]


class Versions(TypedDict):
    """The versions of the programs that made a sample."""

    t2khnl: str
    siren: str
    DarkNews: str


class SampleMetadata(Expectations):
    """What a simulated sample says of itself (:func:`describe`, :func:`pool`): the ntuple's
    ``metadata`` JSON as written (:func:`t2khnl.ntuple.write`) and read back. A selected
    ntuple's (:mod:`t2khnl.limit`) adds ``selection`` and ``efficiency``, and its
    ``n_events`` counts the selected events.

    Attributes:
        mass_gev: HNL mass m_N [GeV].
        d_gev_inv: dipole coupling d_muN the sample was simulated at [GeV^-1].
        mu_tr_gev_inv: the same coupling as mu_tr = 2 d [GeV^-1].
        detector: ``"nd280"`` or ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        preset: the preset's name.
        geometry: ``"<model>/<variant>"`` of the detector geometry.
        width_convention: the HNL width the decays used (the preset's).
        width_convention_note: what that convention is, in words.
        channels: the upscattering channels simulated.
        survival_to_fiducial: whether the weights include the survival to the box.
        decay_region: the preset's decay region (``"fiducial"`` or ``"tpc_gas"``).
        primary: the injected neutrino, ``"nu_mu"`` or ``"nu_mu_bar"``.
        wrong_sign_component: whether the flux's wrong-sign component was injected too.
        pauli_blocking: whether Pauli blocking suppresses the incoherent channels.
        channel_codes: the ``channel`` branch's code of each channel.
        weight_convention: what an event's weight is, in words (per POT).
        nominal_pot: the preset's exposure of this detector and beam [POT].
        regions: the ``region_id`` branch's region names, by index.
        fiducial_volumes: the boxes decays are counted in (the ``fv_index`` branch's).
        injection_upstream_m: how far upstream of the boxes upscatters are injected [m].
        strata: the injection strata.
        targets_pdg: PDG codes of the target nuclei with a cross section.
        n_injected: upscatters injected.
        n_events: events kept (a decay with non-zero probability in a box; selected
            ntuple: events selected).
        seed: random seed (of the first attempt, for a pooled sample).
        attempt_seeds: the seeds of every pooled attempt (:func:`pool` only).
        versions: program versions.
        selection: the selection's name (selected ntuples only).
        efficiency: the selection efficiency at this mass (selected ntuples only).
    """

    mass_gev: float
    d_gev_inv: float
    mu_tr_gev_inv: float
    detector: str
    beam: str
    preset: str
    geometry: str
    width_convention: WidthConvention
    width_convention_note: str
    channels: list[str]
    survival_to_fiducial: bool
    decay_region: str
    primary: str
    wrong_sign_component: bool
    pauli_blocking: bool
    channel_codes: dict[str, int]
    weight_convention: str
    nominal_pot: float
    regions: list[str]
    fiducial_volumes: list[FiducialVolume]
    injection_upstream_m: float
    strata: Strata
    targets_pdg: list[int]
    n_injected: int
    n_events: int
    seed: int
    attempt_seeds: NotRequired[list[int]]
    versions: Versions
    selection: NotRequired[str]
    efficiency: NotRequired[float]


class Simulation(NamedTuple):
    """A simulated sample: one record per event with a decay in a fiducial volume.

    Attributes:
        events: flat record array (branch names and units in README.md).
        metadata: the run description (:class:`SampleMetadata`).
    """

    events: ak.Array
    metadata: SampleMetadata


def _split_expectation(
    weight: np.ndarray, label: np.ndarray, names: Sequence[str], pot: float
) -> dict[str, Expectation]:
    """Expected decays and MC error for ``pot`` POT, per label value (index into names)."""
    return {
        name: {
            "expected": float(weight[label == i].sum() * pot),
            "mc_error": float(math.sqrt((weight[label == i] ** 2).sum()) * pot),
        }
        for i, name in enumerate(names)
    }


def _expectations(events: ak.Array, pot: float, boxes: Sequence[str]) -> Expectations:
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
_PooledKey = Literal["mass_gev", "d_gev_inv", "detector", "beam", "geometry", "width_convention",
                     "channels", "survival_to_fiducial", "primary", "injection_upstream_m",
                     "fiducial_volumes", "pauli_blocking", "wrong_sign_component"]
_POOLED_KEYS: tuple[_PooledKey, ...] = get_args(_PooledKey)


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
    metadata: SampleMetadata = {
        **meta, **_expectations(events, meta["nominal_pot"], boxes),
        "strata": {**meta["strata"], "attempts": total.astype(int).tolist()},
        "n_injected": first.metadata["n_injected"] + meta["n_injected"],
        "n_events": len(events), "seed": seeds[0][0], "attempt_seeds": seeds[0] + seeds[1],
    }
    return Simulation(events, metadata)


def describe(
    events: ak.Array, *, preset: Preset, geometry: DetectorGeometry, detector: str, beam: str,
    mass_gev: float, d_gev_inv: float, n_events: int, seed: int, upstream_m: float,
    targets: list[int], strata: list[list[int]], layer_edges_m: list[float],
) -> SampleMetadata:
    """Describe a run; the expected decays use the preset's nominal exposure.

    Args:
        events: the kept events.
        preset: the preset.
        geometry: the detector geometry.
        detector: ``"nd280"`` or ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        mass_gev: HNL mass [GeV].
        d_gev_inv: dipole coupling [GeV^-1].
        n_events: upscatters injected.
        seed: random seed.
        upstream_m: how far upstream of the boxes upscatters were injected [m].
        targets: PDG codes of the target nuclei with a cross section.
        strata: injection attempts per (box, layer).
        layer_edges_m: edges of the upstream layers [m].
    """
    import DarkNews

    from ._siren import load as load_siren

    siren = load_siren()

    from .geometry import REGIONS

    pot = preset.pot(detector, beam)
    decay_boxes = geometry.decay_boxes(preset.decay_region)
    boxes = [b.name for b in decay_boxes]
    return {
        "mass_gev": mass_gev,
        "d_gev_inv": d_gev_inv,
        "mu_tr_gev_inv": float(model.mu_tr_from_d(d_gev_inv)),
        "detector": detector,
        "beam": beam,
        "preset": preset.name,
        "geometry": f"{geometry.name}/{geometry.variant}",
        "width_convention": preset.width_convention,
        "width_convention_note": _WIDTH_NOTES[preset.width_convention],
        "channels": list(preset.channels),
        "survival_to_fiducial": preset.survival_to_fiducial,
        "decay_region": preset.decay_region,
        "primary": "nu_mu" if beam == "fhc" or preset.rhc_primary == "nu_mu" else "nu_mu_bar",
        "wrong_sign_component": preset.wrong_sign_component,
        "pauli_blocking": preset.pauli_blocking,
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
        "injection_upstream_m": upstream_m,
        "strata": {"layer_edges_m": layer_edges_m, "attempts": strata},
        "targets_pdg": targets,
        "n_injected": n_events,
        "n_events": len(events),
        "seed": seed,
        "versions": {"t2khnl": __version__, "siren": siren.__version__,
                     "DarkNews": DarkNews.__version__},
    }

