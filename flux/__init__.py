"""T2K ND280 beam fluxes and the manifest of every input data file (``t2khnl.flux``).

Files are read from the data folder (``--data-dir`` / ``$T2KHNL_DATA_DIR`` /
``../shared/data``) and checked against ``manifest.yaml``; SIREN's own downloading flux
loader is never used.
"""

from __future__ import annotations

from .loader import (
    BEAMS,
    CM2_PER_M2,
    FILE_POT,
    FILE_REFERENCE_WIDTH_GEV,
    RAW_TO_SI,
    Flux,
    load_beam_flux,
    manifest,
    manifest_entry,
    sha256_of,
    siren_flux_distribution,
    verify,
)

__all__ = [
    "BEAMS",
    "CM2_PER_M2",
    "FILE_POT",
    "FILE_REFERENCE_WIDTH_GEV",
    "RAW_TO_SI",
    "Flux",
    "load_beam_flux",
    "manifest",
    "manifest_entry",
    "sha256_of",
    "siren_flux_distribution",
    "verify",
]
