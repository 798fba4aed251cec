"""T2K ND280 beam fluxes and the manifest of every input data file (``t2khnl.flux``).

The input files ship with the package (``data/``, listed with their sources, units and
sha256 in ``manifest.yaml``); ``--data-dir`` / ``$T2KHNL_DATA_DIR`` replace them with a
user's own. Every file is checked against the manifest before use; SIREN's own
downloading flux loader is never used.
"""

from __future__ import annotations

from .loader import (
    BEAMS,
    CM2_PER_M2,
    DATA_DIR_ENV,
    FILE_POT,
    FILE_REFERENCE_WIDTH_GEV,
    RAW_TO_SI,
    Flux,
    data_folder,
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
    "DATA_DIR_ENV",
    "FILE_POT",
    "FILE_REFERENCE_WIDTH_GEV",
    "RAW_TO_SI",
    "Flux",
    "data_folder",
    "load_beam_flux",
    "manifest",
    "manifest_entry",
    "sha256_of",
    "siren_flux_distribution",
    "verify",
]
