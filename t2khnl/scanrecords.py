r"""The records a scan folder holds, typed: a mass's result and the folder's configuration.

Both are JSON documents on disk (``masses/m<mass>.json``, ``scan.json``), so they are typed
as ``TypedDict``\ s: :class:`t2khnl.scanstore.ScanStore` writes and reads them as they are.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class MassResult(TypedDict, total=False):
    """One mass of a scan, as ``masses/m<mass>.json`` holds it (:func:`t2khnl.scan.run_mass`).

    ``mass_gev`` [GeV]; ``status`` ``"done"`` or ``"skipped"`` (``reason`` says why);
    ``d_low``, ``d_high`` and their MC errors ``d_low_err``, ``d_high_err`` [GeV^-1], None
    where not quoted; ``*_open`` where an edge is the end of the coupling grid; ``refused``
    edges (too few effective events); every excluded ``intervals`` [GeV^-1]; ``n_events``
    per beam used, ``seed``, the limit step's ``summary`` and ``elapsed_s`` [s].
    """

    index: int
    mass_gev: float
    label: str
    seed: int
    status: Literal["done", "skipped"]
    reason: str | None
    n_events: int
    d_low: float | None
    d_high: float | None
    d_low_open: bool | None
    d_high_open: bool | None
    d_low_err: float | None
    d_high_err: float | None
    refused: Any
    intervals: Any
    summary: Any
    elapsed_s: float


class ContourRecord(TypedDict):
    """One finished mass of ``contour.json`` (:func:`t2khnl.scanstore.contour_records`):
    ``mass_gev`` [GeV]; the edges ``d_low``, ``d_high`` and their MC errors [GeV^-1] (None
    where not quoted); whether an edge is the end of the coupling grid; the ``refused``
    edges; every excluded interval [GeV^-1]; ``status`` and ``reason``; events per beam and
    seed of the mass."""

    mass_gev: float
    d_low: float | None
    d_high: float | None
    d_low_err: float | None
    d_high_err: float | None
    d_low_open: bool | None
    d_high_open: bool | None
    refused: Any
    intervals: Any
    status: Literal["done", "skipped"]
    reason: str | None
    n_events: int
    seed: int


class ScanConfig(TypedDict, total=False):
    """What a scan folder is bound to (``scan.json``; :func:`t2khnl.scan.scan_config`):
    detector, preset name (and ``preset_sha256``, its content's digest, for a walk step or a preset
    file), ``n_events`` per beam
    of a first attempt, ``seed``, ``pot_total`` [POT] or None, ``masses_gev`` [GeV], the
    t2khnl version, and, when set, ``precision`` (δd/d) and ``d_range_gev_inv`` [GeV^-1]."""

    detector: str
    preset: str
    preset_sha256: str
    n_events: int
    seed: int
    pot_total: float | None
    masses_gev: list[float]
    t2khnl_version: str
    precision: float
    d_range_gev_inv: list[float]
