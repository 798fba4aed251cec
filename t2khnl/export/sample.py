"""Which events an export writes, with which weights, and the normalisation its header states.

Every exported event is an N -> nu e+ e- decay inside a fiducial volume, so its weight is
w_export = weight x POT x f_ee [expected N -> nu e+ e- decays for POT], with f_ee =
Gamma(nu e+ e-) / Gamma_total for the width the sample used (:func:`ee_fraction`).
:func:`choose` keeps every event with its own w_export (weighted, the default) or draws N
events with replacement, with probability proportional to ``weight``, each with
w_export = (expected e+ e- decays) / N (unweighted). :func:`header` states the
normalisation.

Details: README "Export for detector simulation" ("Weights and normalisation").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, TypedDict, cast

import awkward as ak
import numpy as np

from .. import model
from ..errors import InputError, InputFileError
from ..reweight import kish_n_eff
from . import records

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from ..config import WidthConvention
    from ..samples import SampleMetadata, Versions


class Normalisation(NamedTuple):
    """How the exported weights relate to the exposure.

    Attributes:
        pot: exposure the weights are for [POT].
        ee_fraction: f_ee, Gamma(nu e+ e-) / Gamma_total.
        expected_decays: HNL decays (every channel) in the fiducial volumes for ``pot``,
            sum(weight) x POT, as the ntuple counts them.
        expected_ee_decays: N -> nu e+ e- decays among them: ``expected_decays`` x f_ee,
            the sum of the exported weights.
        mc_error_ee: Monte Carlo error of ``expected_ee_decays`` (from the ntuple's
            weights).
        kish_n_eff: Kish effective number of ntuple events; an unweighted sample much
            larger than this repeats events.
    """

    pot: float
    ee_fraction: float
    expected_decays: float
    expected_ee_decays: float
    mc_error_ee: float
    kish_n_eff: float


class ExportSample(NamedTuple):
    """What an export writes.

    Attributes:
        records: the events (:class:`t2khnl.export.records.EventRecords`).
        weight: each event's weight [expected N -> nu e+ e- decays for ``pot`` POT].
        decay_probability: probability that the event's HNL decays in its fiducial box.
        normalisation: the exposure and expected counts.
        unweighted: events drawn (None: weighted export).
        seed: seed of the draw (None: weighted export).
        offset_m: (x, y, z) [m] added to every position.
        source: name of the ntuple.
        metadata: the ntuple's metadata (:class:`t2khnl.samples.SampleMetadata`).
    """

    records: records.EventRecords
    weight: NDArray[np.float64]
    decay_probability: NDArray[np.float64]
    normalisation: Normalisation
    unweighted: int | None
    seed: int | None
    offset_m: tuple[float, float, float]
    source: str
    metadata: SampleMetadata


def ee_fraction(mass_gev: float, width_convention: str) -> float:
    """Gamma(N -> nu e+ e-) / Gamma_total for a sample simulated with ``width_convention``.

    ``"corrected"`` lifetimes use Gamma(nu gamma) + Gamma(nu e+ e-)
    (:func:`t2khnl.model.total_width_gev`): f = R / (1 + R) with R the exact Dalitz ratio
    (:func:`t2khnl.model.br_ee`). ``"darknews"`` and ``"siren"`` lifetimes use Gamma(nu
    gamma) alone; the e+ e- decays are then R per simulated decay, as the published
    analysis counts them (with the exact R here, not the published formula).

    Args:
        mass_gev: HNL mass [GeV].
        width_convention: the ntuple's ``metadata["width_convention"]``.

    Returns:
        f_ee (dimensionless).
    """
    convention = cast("WidthConvention", width_convention)  # checked by the model
    return float(model.ee_fraction_of_decays(mass_gev, convention))


def check_pot(pot: float) -> float:
    """The exposure [POT] if it is a positive finite number, else InputError."""
    if isinstance(pot, bool) or not isinstance(pot, int | float) or not (
            math.isfinite(pot) and pot > 0):
        msg = f"--pot must be a positive number of protons on target, got {pot!r}"
        raise InputError(msg)
    return float(pot)


def check_unweighted(n_events: int | None) -> int | None:
    """``n_events`` if it is None or a positive integer, else InputError."""
    if n_events is None:
        return None
    if isinstance(n_events, bool) or not isinstance(n_events, int | np.integer) or n_events <= 0:
        msg = f"--unweighted must be a positive number of events, got {n_events!r}"
        raise InputError(msg)
    return int(n_events)


def check_offset(offset_m: Sequence[float] | str) -> tuple[float, float, float]:
    """``offset_m`` (three numbers, or a string ``"x,y,z"``) as three finite floats [m],
    else InputError."""
    try:
        values = tuple(float(v) for v in (offset_m.split(",") if isinstance(offset_m, str)
                                          else offset_m))
    except (TypeError, ValueError) as err:
        msg = f"--offset-m must be three numbers x,y,z in metres, got {offset_m!r}"
        raise InputError(msg) from err
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        msg = f"--offset-m must be three finite numbers x,y,z in metres, got {offset_m!r}"
        raise InputError(msg)
    return values[0], values[1], values[2]


def choose(events: ak.Array, metadata: SampleMetadata, *, source: str,
           pot: float | None = None, unweighted: int | None = None, seed: int = 1,
           offset_m: Sequence[float] | str = (0.0, 0.0, 0.0)) -> ExportSample:
    """The events, weights and normalisation of an export.

    Args:
        events: the ntuple's events (:data:`t2khnl.export.records.RECORD_BRANCHES`).
        metadata: the ntuple's metadata.
        source: the ntuple's name, for messages and headers.
        pot: exposure [POT] (default: the ntuple's ``nominal_pot``).
        unweighted: draw this many events (default: weighted export of every event).
        seed: seed of the unweighted draw.
        offset_m: (x, y, z) [m] added to every position, or ``"x,y,z"``.

    Returns:
        The sample to write.

    Raises:
        InputError: a bad ``pot``, ``unweighted`` or ``offset_m``.
        InputFileError: an ntuple without the record branches, without events, or (for an
            unweighted draw) whose weights are all zero.
    """
    unweighted = check_unweighted(unweighted)
    pot = check_pot(metadata["nominal_pot"] if pot is None else pot)
    offset = check_offset(offset_m)
    records.check_branches(events.fields, source)
    weight = ak.to_numpy(events["weight"]).astype(float)
    if weight.size == 0:
        msg = f"{source} holds no events: nothing to export"
        raise InputFileError(msg)
    total = float(weight.sum())
    if unweighted is not None and not total > 0:
        msg = f"{source} has no event with a non-zero weight: nothing to draw from"
        raise InputFileError(msg)
    mass_gev = float(metadata["mass_gev"])
    fraction = ee_fraction(mass_gev, str(metadata["width_convention"]))
    norm = Normalisation(
        pot=pot, ee_fraction=fraction, expected_decays=total * pot,
        expected_ee_decays=total * pot * fraction,
        mc_error_ee=float(math.sqrt(float((weight**2).sum())) * pot * fraction),
        kish_n_eff=kish_n_eff(weight),
    )
    if unweighted is None:
        entries = np.arange(weight.size, dtype=np.int64)
        exported = weight * pot * fraction
    else:
        rng = np.random.default_rng(seed)
        entries = rng.choice(weight.size, size=unweighted, replace=True, p=weight / total)
        exported = np.full(unweighted, norm.expected_ee_decays / unweighted)
    return ExportSample(
        records=records.build(events, mass_gev, entries, offset),
        weight=exported,
        decay_probability=ak.to_numpy(events["decay_probability"])[entries].astype(float),
        normalisation=norm,
        unweighted=unweighted,
        seed=None if unweighted is None else int(seed),
        offset_m=offset,
        source=source,
        metadata=metadata,
    )


#: The coordinate frame of exported positions (README "Export for detector simulation").
FRAME = ("SIREN ND280 detector coordinates: origin at the centre of the UA1 magnet, z along "
         "the neutrino beam, y vertical (up), x horizontal completing a right-handed frame; "
         "plus offset_m")


class ExportHeader(TypedDict):
    """The run description every export format writes (:func:`header`), in this order.

    Attributes:
        source: the ntuple's name.
        mass_gev: HNL mass [GeV].
        d_gev_inv: the coupling the ntuple was simulated at [GeV^-1].
        mu_tr_gev_inv: the same as mu_tr = 2 d [GeV^-1].
        detector: ``"nd280"`` or ``"upgrade"``.
        beam: ``"fhc"`` or ``"rhc"``.
        preset: the preset's name.
        geometry: ``"<model>/<variant>"``.
        width_convention: the HNL width the decays used.
        channels: the upscattering channels.
        primary: the injected neutrino.
        mode: ``"weighted"`` or ``"unweighted"``.
        n_events: events written.
        seed: seed of the unweighted draw (None: weighted).
        pot: exposure the weights are for [POT].
        ee_fraction: f_ee = Gamma(nu e+ e-) / Gamma_total.
        expected_hnl_decays: HNL decays (every channel) in the fiducial volumes for ``pot``.
        expected_ee_decays: N -> nu e+ e- decays among them, the sum of the weights.
        expected_ee_decays_mc_error: its Monte Carlo error.
        ntuple_kish_n_eff: Kish effective number of ntuple events.
        weight_convention: what a weight is, in words.
        frame: the coordinate frame of the positions, in words (:data:`FRAME`).
        offset_m: (x, y, z) added to every position [m].
        time_origin: where t = 0 is, in words.
        versions: the versions of the programs that made the ntuple.

    The fields from ``mass_gev`` to ``primary``, and ``versions``, are the ntuple
    metadata's (:class:`t2khnl.samples.SampleMetadata`): None (``versions``: {}) where an
    ntuple lacks them.
    """

    source: str
    mass_gev: float | None
    d_gev_inv: float | None
    mu_tr_gev_inv: float | None
    detector: str | None
    beam: str | None
    preset: str | None
    geometry: str | None
    width_convention: str | None
    channels: list[str] | None
    primary: str | None
    mode: str
    n_events: int
    seed: int | None
    pot: float
    ee_fraction: float
    expected_hnl_decays: float
    expected_ee_decays: float
    expected_ee_decays_mc_error: float
    ntuple_kish_n_eff: float
    weight_convention: str
    frame: str
    offset_m: list[float]
    time_origin: str
    versions: Versions | dict[str, str]


def header(sample: ExportSample) -> ExportHeader:
    """The run description every format writes (model point, exposure, counts, conventions).

    Args:
        sample: the export.

    Returns:
        JSON-serialisable fields, in a fixed order.
    """
    meta, norm = sample.metadata, sample.normalisation
    return {
        "source": sample.source,
        "mass_gev": meta.get("mass_gev"),
        "d_gev_inv": meta.get("d_gev_inv"),
        "mu_tr_gev_inv": meta.get("mu_tr_gev_inv"),
        "detector": meta.get("detector"),
        "beam": meta.get("beam"),
        "preset": meta.get("preset"),
        "geometry": meta.get("geometry"),
        "width_convention": meta.get("width_convention"),
        "channels": meta.get("channels"),
        "primary": meta.get("primary"),
        "mode": "weighted" if sample.unweighted is None else "unweighted",
        "n_events": int(sample.weight.size),
        "seed": sample.seed,
        "pot": norm.pot,
        "ee_fraction": norm.ee_fraction,
        "expected_hnl_decays": norm.expected_decays,
        "expected_ee_decays": norm.expected_ee_decays,
        "expected_ee_decays_mc_error": norm.mc_error_ee,
        "ntuple_kish_n_eff": norm.kish_n_eff,
        "weight_convention": "an event's weight is the expected number of N -> nu e+ e- "
        "decays in the fiducial volumes it stands for at `pot` POT, before selection and "
        "efficiency; the weights add up to expected_ee_decays",
        "frame": FRAME,
        "offset_m": list(sample.offset_m),
        "time_origin": "t = 0 at the upscatter",
        "versions": meta.get("versions", {}),
    }
