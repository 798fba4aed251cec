"""AFH's published ND280 curve (``validation/AFH_T2K.txt``) and how a limit curve of
:mod:`t2khnl.kaon` compares with it (docs/kaon.md: the file is AFH's "T2K full" curve).
"""

from __future__ import annotations

import os
from typing import Literal, NamedTuple

import numpy as np

from .errors import InputError
from .flux import verify
from .kaon import AFH_FILE, AFH_FULL_OVER_ND280, FloatArray, LimitCurve, _two_columns

__all__ = ["AFHCurve", "Agreement", "agreement", "read_afh"]

class AFHCurve(NamedTuple):
    """AFH's ND280 |U_muN|² curve (mu_tr = 1e-6 GeV^-1, 90% CL, zero background).

    Attributes:
        mass_mev: HNL masses [MeV].
        u2: the |U_muN|² limit.
        exposure: ``"t2k_full"`` (as stored) or ``"nd280_2019"`` (x √10.7).
    """

    mass_mev: FloatArray
    u2: FloatArray
    exposure: str


def read_afh(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    exposure: Literal["t2k_full", "nd280_2019"] = "t2k_full",
) -> AFHCurve:
    """Read ``validation/AFH_T2K.txt`` (sha256-checked): log10(m_N/MeV), log10 |U_muN|².

    The file is AFH's "T2K full" curve (docs/kaon.md). ``exposure="nd280_2019"``
    multiplies it by √10.7 (:data:`AFH_FULL_OVER_ND280`), which gives back AFH's ND280 2019
    limit (FHC kaon flux x 18.63e20 POT) to -0.03 dex median (0.00 to -0.08 below 230 MeV,
    -0.13 to +0.07 on the steep wall above): the file was digitised.

    Args:
        data_dir: the data folder.
        exposure: ``"t2k_full"`` or ``"nd280_2019"``.

    Returns:
        The curve.

    Raises:
        InputError: unknown ``exposure``.
        DataFileError: the file is missing, modified or not two finite columns.
    """
    if exposure not in ("t2k_full", "nd280_2019"):
        msg = f"exposure must be 't2k_full' or 'nd280_2019', got {exposure!r}"
        raise InputError(msg)
    path = verify(AFH_FILE, data_dir)
    table = _two_columns(path, "log10(m_N/MeV) log10(|U|^2)")
    factor = AFH_FULL_OVER_ND280 if exposure == "nd280_2019" else 1.0
    return AFHCurve(10.0 ** table[:, 0], 10.0 ** table[:, 1] * factor, exposure)


class Agreement(NamedTuple):
    """Ours over AFH's |U|² limit at AFH's masses within our curve's finite range.

    Attributes:
        mass_mev: the masses compared [MeV].
        ratio: ours / AFH at those masses.
        median_ratio: median of ``ratio`` (10**median of log10 ratio).
        median_abs_log10: median of |log10 ratio|.
        max_abs_log10: maximum of |log10 ratio|.
    """

    mass_mev: FloatArray
    ratio: FloatArray
    median_ratio: float
    median_abs_log10: float
    max_abs_log10: float


def agreement(curve: LimitCurve, reference: AFHCurve) -> Agreement:
    """Compare a limit curve with AFH's, interpolating ours in log-log at AFH's masses.

    Args:
        curve: our curve.
        reference: AFH's curve (:func:`read_afh`).

    Returns:
        The ratios and their summary.

    Raises:
        InputError: the curves share no mass range.
    """
    finite = np.isfinite(curve.u2)
    log_m = np.log10(curve.mass_gev[finite] * 1e3)
    log_u2 = np.log10(curve.u2[finite])
    ref_log_m = np.log10(reference.mass_mev)
    inside = log_m.size > 1 and (ref_log_m >= log_m.min()) & (ref_log_m <= log_m.max())
    if not np.any(inside):
        msg = "our curve and AFH's share no mass range"
        raise InputError(msg)
    log_ratio = np.interp(ref_log_m[inside], log_m, log_u2) - np.log10(reference.u2[inside])
    return Agreement(
        reference.mass_mev[inside],
        10.0**log_ratio,
        float(10.0 ** np.median(log_ratio)),
        float(np.median(np.abs(log_ratio))),
        float(np.max(np.abs(log_ratio))),
    )
