"""The analysis configuration: presets (YAML) validated against a packaged schema and built
once into a typed, frozen :class:`Preset`, and the detector and beam choices.

A preset is read from YAML, checked against ``schemas/preset.json`` (:func:`validate`) and
turned into nested frozen dataclasses whose ``Literal`` fields mirror the schema's enums.
Every step of the pipeline takes the :class:`Preset` object; none reads the YAML again. A new
preset key is one field here (in schema order) plus its schema entry: the conversion from and
to plain mappings follows the fields' types.

>>> p = load("corrected")
>>> p.statistics.calctype, p.pot("nd280", "rhc")
('exact', 6.29e+20)
>>> p.with_settings({"br_ee_formula": "published"}).br_ee_formula
'published'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import jsonschema
import yaml

from .errors import InputError

log = logging.getLogger(__name__)

PRESETS = ("corrected", "published")
DETECTORS = ("nd280", "upgrade")
BEAMS = ("fhc", "rhc")

GeometryVariant = Literal["corrected", "published", "published_light_gas"]
WidthConvention = Literal["corrected", "darknews", "siren"]
BrEeFormula = Literal["exact", "published"]
ChannelName = Literal["coherent", "p-el", "n-el"]
Primary = Literal["nu_mu_bar", "nu_mu"]
DecayRegion = Literal["fiducial", "tpc_gas"]
CalcType = Literal["exact", "asymptotics", "asymptotics_clsb", "toybased"]

#: Keys that describe a preset rather than configure it.
LABEL_KEYS = ("name", "description", "notes")

_T = TypeVar("_T")


@dataclass(frozen=True)
class Injection:
    """Where upscatters are injected.

    Attributes:
        decay_lengths_upstream: injection length in front of each fiducial box, in
            (largest) lab decay lengths.
        max_upstream_m: ... but no further than this [m].
        radius_margin_m: margin [m] of the injection disk around the box's circumradius.
    """

    decay_lengths_upstream: float
    max_upstream_m: float
    radius_margin_m: float


@dataclass(frozen=True)
class BeamPot:
    """Exposure [POT] per beam."""

    fhc: float
    rhc: float


@dataclass(frozen=True)
class Exposure:
    """Nominal exposure [POT] per detector and beam."""

    nd280: BeamPot
    upgrade: BeamPot


@dataclass(frozen=True)
class Selections:
    """Selection file name (``selections/<name>.yaml``) per detector."""

    nd280: str
    upgrade: str


@dataclass(frozen=True)
class Statistics:
    """How the limit is set.

    Attributes:
        calctype: pyhf's CLs calculation (:data:`t2khnl.stats.CalcType`).
        t2k_backgrounds: use the T2K 2019 backgrounds.
        flux_xsec: relative normsys on the signal, or None.
    """

    calctype: CalcType
    t2k_backgrounds: bool
    flux_xsec: float | None


@dataclass(frozen=True)
class Preset:
    """One analysis configuration (fields: ``schemas/preset.json``, units in the names).

    Build it with :func:`load` or :func:`validate`; change it with
    :meth:`with_settings` (validated) — never by editing a mapping.
    """

    name: str
    description: str
    geometry_variant: GeometryVariant
    width_convention: WidthConvention
    br_ee_formula: BrEeFormula
    channels: tuple[ChannelName, ...]
    pauli_blocking: bool
    decay_region: DecayRegion
    survival_to_fiducial: bool
    rhc_primary: Primary
    wrong_sign_component: bool
    injection: Injection
    exposure_pot: Exposure
    selection: Selections
    statistics: Statistics
    notes: tuple[str, ...] = ()

    def pot(self, detector: str, beam: str) -> float:
        """Nominal exposure [POT] of ``detector`` (nd280, upgrade) in ``beam`` (fhc, rhc)."""
        return float(getattr(getattr(self.exposure_pot, detector), beam))

    def selection_for(self, detector: str) -> str:
        """Name of ``detector``'s selection file."""
        return str(getattr(self.selection, detector))

    @property
    def window_lengths(self) -> float | None:
        """The injection window in decay lengths when the weights lack survival (None:
        they include it)."""
        return None if self.survival_to_fiducial else self.injection.decay_lengths_upstream

    def to_dict(self) -> dict[str, Any]:
        """The preset as the plain mapping of its YAML (lists, nested dicts; no empty
        ``notes``)."""
        out = _plain(self)
        if not self.notes:
            out.pop("notes")
        return out

    def settings(self) -> dict[str, Any]:
        """:meth:`to_dict` without the labels (name, description, notes)."""
        return {k: v for k, v in self.to_dict().items() if k not in LABEL_KEYS}

    def digest(self) -> str:
        """SHA-256 (hex) of the preset's content (:meth:`to_dict` as sorted JSON): what a
        scan folder of an unnamed preset (a walk step) is bound to."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def with_settings(self, changes: dict[str, Any]) -> Preset:
        """A new preset with top-level keys of ``changes`` set (whole values, as a walk
        step's ``set``), validated against the schema.

        Raises:
            InputError: a key the schema does not know or a value it refuses.
        """
        return validate({**self.to_dict(), **changes})


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _schema() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("schemas/preset.json").read_text()
    return json.loads(text)


def check_schema(instance: Any, schema: dict[str, Any], what: str) -> None:
    """Validate ``instance`` against a JSON schema, naming the failing path on error.

    Raises:
        InputError: ``"invalid <what> at <path>: <reason>"``.
    """
    # what jsonschema.validate does, less its check of the schema itself (~30 ms a call;
    # the packaged schemas are checked by the tests)
    validator = jsonschema.validators.validator_for(schema)(schema)
    err = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "<top>"
        msg = f"invalid {what} at {where}: {err.message}"
        raise InputError(msg) from err


def validate(spec: Any) -> Preset:
    """The :class:`Preset` of a parsed YAML mapping, after checking it against the schema.

    Raises:
        InputError: the mapping breaks ``schemas/preset.json`` (the failing path is named).
    """
    check_schema(spec, _schema(), "preset")
    return _build(Preset, spec)


def _build(cls: type[_T], spec: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass ``cls`` from a schema-valid mapping."""
    hints = get_type_hints(cls)
    kwargs = {f.name: _convert(hints[f.name], spec[f.name])
              for f in dataclasses.fields(cls)  # type: ignore[arg-type]
              if f.name in spec}
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)  # type: ignore[arg-type]
    if origin is tuple:
        return tuple(_convert(get_args(hint)[0], v) for v in value)
    if origin in (typing.Union, types.UnionType) and value is not None:
        kinds = [a for a in get_args(hint) if a is not type(None)]
        return _convert(kinds[0], value)
    return value


def resolve(preset: str | os.PathLike[str] | Preset) -> Preset:
    """``preset`` itself when it is a :class:`Preset`, else :func:`load` of it (a name or
    a file): entry points take either, the steps below them a :class:`Preset`."""
    return preset if isinstance(preset, Preset) else load(preset)


def load(name: str | os.PathLike[str]) -> Preset:
    """Load a packaged preset by name, or a preset file.

    Args:
        name: ``corrected`` (default analysis), ``published`` (the paper's configuration), or
            the path of a YAML file following ``schemas/preset.json`` (e.g. a step of the
            published -> corrected walk, :mod:`t2khnl.compare`).

    Returns:
        The validated, typed preset.

    Raises:
        InputError: unknown preset name, unreadable file, or a file that breaks the schema.
    """
    if is_preset_file(name):
        path = Path(name)
        try:
            spec = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            msg = f"cannot read preset file {path}: {err}"
            raise InputError(msg) from err
        if not isinstance(spec, dict):
            msg = f"invalid preset file {path}: not a mapping"
            raise InputError(msg)
        return validate(spec)
    if name not in PRESETS:
        msg = (f"unknown preset {name!r}; choose one of {', '.join(PRESETS)} or give a "
               "preset file (.yaml)")
        raise InputError(msg)
    text = resources.files(__package__).joinpath(f"presets/{name}.yaml").read_text()
    return validate(yaml.safe_load(text))


def is_preset_file(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` designates a preset file (a path ending in .yaml / .yml)."""
    return Path(name).suffix in (".yaml", ".yml")


def check_choice(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise an InputError naming them."""
    if value not in allowed:
        msg = f"unknown {kind} {value!r}; choose one of {', '.join(allowed)}"
        raise InputError(msg)
    return value
