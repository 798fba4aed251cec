"""What a simulated sample says of itself: its metadata (model point, preset settings,
expected decays for the nominal exposure, strata) and the pooling of two samples."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import awkward as ak
import numpy as np

from . import model, nucleons
from ._version import __version__
from .errors import InputError

if TYPE_CHECKING:
    from .config import Preset

class Simulation(NamedTuple):
    """A simulated sample: one record per event with a decay in a fiducial volume.

    Attributes:
        events: flat record array (branch names and units in README.md).
        metadata: the run description (model point, detector, preset, POT convention,
            versions, expected decays for the nominal exposure and their MC error).
    """

    events: ak.Array
    metadata: dict[str, Any]


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


def describe(
    events: ak.Array, *, preset: Preset, geometry: Any, **run: Any
) -> dict[str, Any]:
    """Describe a run; the expected decays use the preset's nominal exposure."""
    import DarkNews

    from ._siren import load as load_siren

    siren = load_siren()

    from .geometry import REGIONS

    detector, beam = run["detector"], run["beam"]
    pot = preset.pot(detector, beam)
    decay_boxes = geometry.decay_boxes(preset.decay_region)
    boxes = [b.name for b in decay_boxes]
    return {
        "mass_gev": run["mass_gev"],
        "d_gev_inv": run["d_gev_inv"],
        "mu_tr_gev_inv": float(model.mu_tr_from_d(run["d_gev_inv"])),
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
        "injection_upstream_m": run["upstream_m"],
        "strata": {"layer_edges_m": run["layer_edges_m"],
                   "attempts": run["strata"]},
        "targets_pdg": run["targets"],
        "n_injected": run["n_events"],
        "n_events": len(events),
        "seed": run["seed"],
        "versions": {"t2khnl": __version__, "siren": siren.__version__,
                     "DarkNews": DarkNews.__version__},
    }

