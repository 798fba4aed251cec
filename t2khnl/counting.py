"""The counting experiment as a pyhf workspace: one bin per beam channel, a ``signal`` sample
scaled by the POI ``mu`` with an optional normsys ``flux_xsec``, a ``background`` sample and
the observed counts; JSON for ``pyhf cls`` and patchsets for a coupling grid. The CLs and
limits computed on it are :mod:`t2khnl.stats`; the experiment's inputs (exposure,
backgrounds) :mod:`t2khnl.experiment`.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyhf
from numpy.typing import NDArray

from . import t2k2019
from .errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_FLUX_XSEC",
    "MODIFIER_SETTINGS",
    "T2K_2019_BACKGROUND",
    "Counts",
    "build_patchset",
    "build_workspace",
    "patchset_json",
    "t2k_2019_workspace",
    "workspace_json",
    "zero_background_model",
]

Counts = Mapping[str, float]

#: Relative flux × cross-section normalisation uncertainty on the signal (PHYSICS.md).
DEFAULT_FLUX_XSEC = 0.05
#: Expected backgrounds [events] of the T2K 2019 ND280 search (e+e-nu), by beam mode
#: (:data:`t2khnl.t2k2019.BACKGROUND`).
T2K_2019_BACKGROUND: dict[str, float] = t2k2019.BACKGROUND
#: Interpolation codes, as ``pyhf cls`` sets them, so our CLs equal the CLI's.
MODIFIER_SETTINGS: dict[str, dict[str, str]] = {
    "normsys": {"interpcode": "code4"},
    "histosys": {"interpcode": "code4p"},
}

POI = "mu"
SIGNAL = "signal"
BACKGROUND = "background"
SYST = "flux_xsec"
MEASUREMENT = "hnl"
#: pyhf's default upper bound of a normfactor POI.
DEFAULT_POI_MAX = 10.0


def build_workspace(
    signal: Counts,
    *,
    background: Counts | None = None,
    observed: Counts | None = None,
    flux_xsec: float | None = DEFAULT_FLUX_XSEC,
    measurement: str = MEASUREMENT,
) -> pyhf.Workspace:
    """A pyhf workspace for a one-bin-per-channel counting experiment.

    Args:
        signal: expected signal events per channel at the model point (mu = 1), e.g.
            ``{"fhc": 2.1, "rhc": 0.4}``.
        background: expected background events per channel (default 0 everywhere).
        observed: observed events per channel (default 0 everywhere).
        flux_xsec: relative normalisation uncertainty on the signal (normsys ``flux_xsec``,
            correlated across channels); None or 0 for none.
        measurement: name of the measurement (POI ``mu``).

    Returns:
        the workspace, validated against pyhf's workspace schema.

    Raises:
        InputError: unknown or missing channels, negative or non-finite counts.
    """
    names = _channel_names(signal, background, observed)
    spec = _spec(
        names,
        signal=signal,
        background=background,
        observed=observed,
        flux_xsec=flux_xsec,
        measurement=measurement,
        with_signal=True,
    )
    return pyhf.Workspace(spec)


def zero_background_model(
    signal: Counts,
    *,
    observed: Counts | None = None,
    flux_xsec: float | None = None,
) -> pyhf.Workspace:
    """The paper's statistics: no background, nothing observed, no systematics by default.

    Args:
        signal: expected signal events per channel.
        observed: observed events per channel (default 0).
        flux_xsec: relative signal normalisation uncertainty (default none, as the paper).

    Returns:
        the workspace (see :func:`build_workspace`).
    """
    return build_workspace(signal, observed=observed, flux_xsec=flux_xsec)


def t2k_2019_workspace(
    signal: Counts, *, flux_xsec: float | None = DEFAULT_FLUX_XSEC
) -> pyhf.Workspace:
    """The T2K 2019 ND280 search with its backgrounds: b = 0.563 (FHC), 0.015 (RHC), 0 seen.

    Args:
        signal: expected signal events with keys ``"fhc"`` and ``"rhc"``.
        flux_xsec: relative signal normalisation uncertainty (None for none).

    Returns:
        the workspace.
    """
    return build_workspace(
        signal,
        background=T2K_2019_BACKGROUND,
        observed=dict.fromkeys(T2K_2019_BACKGROUND, 0.0),
        flux_xsec=flux_xsec,
    )


def workspace_json(workspace: pyhf.Workspace | Mapping[str, Any], *, indent: int = 2) -> str:
    """The workspace as JSON text (readable by ``pyhf cls`` and friends).

    Args:
        workspace: a workspace or its spec.
        indent: JSON indentation.

    Returns:
        the JSON document, keys sorted.
    """
    return json.dumps(dict(workspace), indent=indent, sort_keys=True)


def patchset_json(patchset: pyhf.patchset.PatchSet, *, indent: int = 2) -> str:
    """A patchset as JSON text (pyhf's patchset schema; ``pyhf patchset apply`` reads it).

    Args:
        patchset: the patchset (e.g. from :func:`build_patchset`).
        indent: JSON indentation.

    Returns:
        the JSON document.
    """
    spec = {
        "metadata": patchset.metadata,
        "patches": [{"metadata": p.metadata, "patch": p.patch} for p in patchset],
        "version": patchset.version,
    }
    return json.dumps(spec, indent=indent, sort_keys=True)


def build_patchset(
    points: Mapping[tuple[float, float], Counts],
    *,
    hepdata: str,
    background: Counts | None = None,
    observed: Counts | None = None,
    flux_xsec: float | None = DEFAULT_FLUX_XSEC,
    description: str = "Dipole-portal HNL signal in the ND280 TPCs, one patch per (m_N, d)",
    labels: tuple[str, str] = ("mass_gev", "d_gev_inv"),
) -> tuple[pyhf.Workspace, pyhf.patchset.PatchSet]:
    """A background-only workspace and a pyhf patchset adding the signal of each model point.

    Args:
        points: expected signal events per channel for each (m_N [GeV], d [GeV^-1]).
        hepdata: INSPIRE record id, ``"ins"`` and 7 digits (pyhf's patchset schema requires
            ``references.hepdata``).
        background: expected background events per channel (default 0).
        observed: observed events per channel (default 0).
        flux_xsec: relative signal normalisation uncertainty (None for none).
        description: patchset description.
        labels: names of the two patch values (mass [GeV], coupling [GeV^-1]).

    Returns:
        (background-only workspace, patchset); ``patchset.apply(workspace, (m, d))`` gives
        the workspace of :func:`build_workspace` for that point.

    Raises:
        InputError: no points, inconsistent channels, or two points with the same name.
    """
    if not points:
        msg = "build_patchset needs at least one (mass, d) point"
        raise InputError(msg)
    first = next(iter(points.values()))
    names = _channel_names(first, background, observed)
    bkg_spec = _spec(
        names,
        signal=first,
        background=background,
        observed=observed,
        flux_xsec=flux_xsec,
        measurement=MEASUREMENT,
        with_signal=False,
    )
    bkg_ws = pyhf.Workspace(bkg_spec)
    patches = []
    seen: dict[str, tuple[float, float]] = {}
    for (mass, d), signal in points.items():
        if sorted(signal) != names:
            msg = f"signal channels {sorted(signal)} at {(mass, d)} differ from {names}"
            raise InputError(msg)
        name = _patch_name(float(mass), float(d))
        if name in seen:
            msg = f"points {seen[name]} and {(mass, d)} share the patch name {name!r}"
            raise InputError(msg)
        seen[name] = (mass, d)
        ops = [
            {
                "op": "add",
                "path": f"/channels/{i}/samples/0",
                "value": _signal_sample(_count(signal, ch, "signal"), flux_xsec),
            }
            for i, ch in enumerate(names)
        ]
        patches.append(
            {"metadata": {"name": name, "values": [float(mass), float(d)]}, "patch": ops}
        )
    spec = {
        "metadata": {
            "description": description,
            "digests": {"sha256": pyhf.utils.digest(bkg_ws, algorithm="sha256")},
            "labels": list(labels),
            "references": {"hepdata": hepdata},
        },
        "patches": patches,
        "version": "1.0.0",
    }
    try:
        patchset = pyhf.patchset.PatchSet(spec)
    except pyhf.exceptions.InvalidSpecification as exc:
        msg = f"invalid patchset: {exc}"
        raise InputError(msg) from exc
    return bkg_ws, patchset


# --------------------------------------------------------------------------- CLs


def _counting_model(
    signal: Counts, *, background: Counts | None, observed: Counts | None,
    flux_xsec: float | None, mu_max: float,
) -> tuple[pyhf.pdf.Model, NDArray[np.float64]]:
    """The model of :func:`build_workspace` with the POI bounded by [0, max(10, mu_max)],
    and its observed data (main + auxiliary).

    Built straight from the specification without pyhf's schema validation (~25 ms a
    workspace and model, ~10x the fit): the specification is :func:`_spec`'s, which
    :func:`build_workspace` validates, and the counts are checked by :func:`_count`.
    """
    names = _channel_names(signal, background, observed)
    spec = _spec(names, signal=signal, background=background, observed=observed,
                 flux_xsec=flux_xsec, measurement=MEASUREMENT, with_signal=True)
    bounds = [{"name": POI, "bounds": [[0.0, max(DEFAULT_POI_MAX, float(mu_max))]]}]
    model = pyhf.Model({"channels": spec["channels"], "parameters": bounds}, poi_name=POI,
                       modifier_settings=MODIFIER_SETTINGS, validate=False)
    counts = {obs["name"]: obs["data"][0] for obs in spec["observations"]}
    main = [counts[ch] for ch in model.config.channels]
    return model, np.asarray(main + list(model.config.auxdata), dtype=float)


def _spec(
    names: Sequence[str],
    *,
    signal: Counts,
    background: Counts | None,
    observed: Counts | None,
    flux_xsec: float | None,
    measurement: str,
    with_signal: bool,
) -> dict[str, Any]:
    channels = []
    for ch in names:
        samples = []
        if with_signal:
            samples.append(_signal_sample(_count(signal, ch, "signal"), flux_xsec))
        b = _count(background, ch, "background") if background is not None else 0.0
        samples.append({"name": BACKGROUND, "data": [b], "modifiers": []})
        channels.append({"name": ch, "samples": samples})
    n = {ch: _count(observed, ch, "observed") if observed is not None else 0.0 for ch in names}
    return {
        "channels": channels,
        "observations": [{"name": ch, "data": [n[ch]]} for ch in names],
        "measurements": [{"name": measurement, "config": {"poi": POI, "parameters": []}}],
        "version": "1.0.0",
    }


def _signal_sample(s: float, flux_xsec: float | None) -> dict[str, Any]:
    modifiers: list[dict[str, Any]] = [{"name": POI, "type": "normfactor", "data": None}]
    if flux_xsec:
        if not 0.0 < flux_xsec < 1.0:
            msg = f"flux_xsec must be a relative uncertainty in (0, 1), got {flux_xsec}"
            raise InputError(msg)
        modifiers.append(
            {
                "name": SYST,
                "type": "normsys",
                "data": {"hi": 1.0 + flux_xsec, "lo": 1.0 - flux_xsec},
            }
        )
    return {"name": SIGNAL, "data": [s], "modifiers": modifiers}


def _channel_names(signal: Counts, *others: Counts | None) -> list[str]:
    if not signal:
        msg = "signal needs at least one channel"
        raise InputError(msg)
    names = sorted(signal)
    for other in others:
        if other is not None and sorted(other) != names:
            msg = f"channels {sorted(other)} do not match the signal's {names}"
            raise InputError(msg)
    return names


def _count(counts: Counts, channel: str, what: str) -> float:
    value = float(counts[channel])
    if not (math.isfinite(value) and value >= 0.0):
        msg = f"{what} in channel {channel!r} must be finite and non-negative, got {value}"
        raise InputError(msg)
    return value


def _as_counts(value: Counts | float) -> dict[str, float]:
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    return {"sr": float(value)}


def _patch_name(mass_gev: float, d_gev_inv: float) -> str:
    """A name matching pyhf's ``^[a-zA-Z0-9_]+$``, e.g. ``m0p47_d1p25em06``."""

    def token(x: float) -> str:
        return re.sub(r"[^a-zA-Z0-9_]", "", f"{x:.6g}".replace(".", "p").replace("-", "m"))

    return f"m{token(mass_gev)}_d{token(d_gev_inv)}"
