"""AFH's own inputs, for a like-for-like kaon validation (Suppl. Fig. 1).

Argüelles, Foppiani and Hostert (AFH, arXiv:2109.03831; github.com/mhostert/HNL-DIF @
2d1d078) computed the ND280 reach for HNLs from K -> mu N decaying through d = 5e-7 GeV^-1.
:mod:`t2khnl.kaon` computes it with the analysis's assumptions; this module supplies AFH's,
re-expressed from their code: :func:`efficiency` (T2K data-release matrix, mode 10),
:func:`kaon_flux` (FHC nu_mu + nu_mu-bar from K+, nu / cm^2 / 50 MeV / 1e21 POT),
:data:`POT` (12.34e20 + 6.29e20), :func:`decay_box` (one 1.70 x 1.96 x 1.68 m box, 280 m
from the target) and :func:`table_limit` (their 90% CL |U_muN|^2 at 2.3 events).

Details: docs/kaon.md ("AFH's inputs").
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from . import decay, kaon, kaon_reference, t2k2019
from .errors import DataFileError
from .flux import RAW_TO_SI, verify

__all__ = [
    "EFFICIENCY_FILE",
    "FLUX_FILES",
    "POT",
    "TABLE_FILE",
    "TableLimit",
    "decay_box",
    "efficiency",
    "kaon_flux",
    "table_limit",
]

FloatArray = npt.NDArray[np.float64]

#: Manifest paths: the T2K data release's efficiency matrix, AFH's FHC kaon fluxes
#: (nu_mu, nu_mu-bar) and their event-rate table.
EFFICIENCY_FILE = "validation/t2k2018_hnl_efficiency.npy"
FLUX_FILES = ("validation/afh_nd280_fhc_numu_kplus.dat",
              "validation/afh_nd280_fhc_numubar_kplus.dat")
TABLE_FILE = "validation/afh_t2k_mag_mom_umu4.dat"
#: AFH's exposure on the FHC flux [POT] (``"pots": 12.34e20 + 6.29e20``).
POT = kaon.POT_AFH_ND280
#: The data release's masses [MeV] and AFH's choices: mode 10 (K -> mu N, N -> e e nu),
#: POT weights of the neutrino and antineutrino modes, masses of the low-mass line fit.
_MASSES_MEV = np.linspace(140.0, 490.0, 36)
_MODE = 10
_POT_WEIGHTS = (t2k2019.POT["fhc"], t2k2019.POT["rhc"])
_FIT_POINTS = 17
#: Their decay volume [m]: TPC face 1.70 x 1.96, three TPCs of 0.56 back to back, from the
#: baseline on (kaon.BASELINE_M = 280 m is the ND280 origin here).
_BOX_WIDTHS_M = (1.70, 1.96, 3 * 0.56)
#: Events excluded at 90% CL with zero background (their contour level).
_LEVEL = 2.3


def efficiency(mass_gev: float, data_dir: str | os.PathLike[str] | None = None) -> float:
    """AFH's e+e- nu efficiency at one HNL mass (docs/kaon.md, "AFH's inputs").

    Args:
        mass_gev: HNL mass [GeV].
        data_dir: the data folder.

    Returns:
        The efficiency (dimensionless).

    Raises:
        DataFileError: the matrix is missing, modified or not 36 x 24 x 10.
    """
    summed = _summed_efficiency(data_dir)
    mass_mev = 1e3 * float(mass_gev)
    if mass_mev < _MASSES_MEV[0]:
        slope, intercept = np.polyfit(_MASSES_MEV[:_FIT_POINTS], summed[:_FIT_POINTS], 1)
        return float(slope * mass_mev + intercept)
    return float(np.interp(mass_mev, _MASSES_MEV, summed, right=0.0))


def _summed_efficiency(data_dir: str | os.PathLike[str] | None) -> FloatArray:
    """Mode 10's efficiency per mass, channels summed, neutrino/antineutrino POT-averaged."""
    path = verify(EFFICIENCY_FILE, data_dir)
    matrix = np.load(path, allow_pickle=False)
    if matrix.shape != (_MASSES_MEV.size, 24, 10):
        msg = f"{path}: expected a 36 x 24 x 10 efficiency matrix, got {matrix.shape}"
        raise DataFileError(msg)
    nu, nubar = matrix[:, _MODE, :5].sum(axis=1), matrix[:, _MODE, 5:].sum(axis=1)
    return np.asarray((nu * _POT_WEIGHTS[0] + nubar * _POT_WEIGHTS[1]) / sum(_POT_WEIGHTS))


def kaon_flux(data_dir: str | os.PathLike[str] | None = None,
              n_nodes: int = 4001) -> kaon.KaonFlux:
    """AFH's FHC nu_mu + nu_mu-bar flux from K+ decays [nu / m^2 / GeV / POT].

    Each table (E [GeV], flux per cm^2 per 50 MeV per 1e21 POT, one comment line) is
    interpolated linearly and taken as zero outside its own nodes, as their
    ``interp1d(..., fill_value=0)``; the sum is tabulated on ``n_nodes`` even nodes over both
    ranges (1.2 MeV apart: the steps at each table's ends are smeared over one node).

    Args:
        data_dir: the data folder.
        n_nodes: nodes of the summed table.

    Returns:
        The summed flux.

    Raises:
        DataFileError: a table is missing, modified or not two increasing columns.
    """
    tables = []
    for name in FLUX_FILES:
        path = verify(name, data_dir)
        table = np.loadtxt(path, ndmin=2)
        if table.shape[1] != 2 or np.any(np.diff(table[:, 0]) <= 0):
            msg = f"{path}: expected two columns, energies increasing"
            raise DataFileError(msg)
        tables.append(table)
    low = min(t[0, 0] for t in tables)
    high = max(t[-1, 0] for t in tables)
    nodes = np.linspace(low, high, n_nodes)
    total = sum(np.interp(nodes, t[:, 0], t[:, 1], left=0.0, right=0.0) for t in tables)
    return kaon.KaonFlux(nodes, np.asarray(total) * RAW_TO_SI,
                         verify(FLUX_FILES[0], data_dir))


def decay_box() -> decay.Boxes:
    """AFH's decay volume in the coordinates of :func:`t2khnl.kaon.tpc_decay_probability`:
    1.70 x 1.96 x 1.68 m, its upstream face at the ND280 origin (280 m from the target)."""
    widths = np.array([_BOX_WIDTHS_M], dtype=float)
    centre = np.array([[0.0, 0.0, 0.5 * _BOX_WIDTHS_M[2]]])
    return decay.Boxes(("AFH",), centre, widths)


class TableLimit(NamedTuple):
    """AFH's ND280 limit from their event-rate table.

    Attributes:
        mass_mev: their masses [MeV] where the table crosses 2.3 events.
        u2: the |U_muN|^2 of the crossing.
    """

    mass_mev: FloatArray
    u2: FloatArray

    def as_curve(self) -> kaon_reference.AFHCurve:
        """The same as a :class:`t2khnl.kaon_reference.AFHCurve` (exposure ``"nd280_2019"``)."""
        return kaon_reference.AFHCurve(self.mass_mev, self.u2, "nd280_2019")


def table_limit(data_dir: str | os.PathLike[str] | None = None) -> TableLimit:
    """Where AFH's event rate first reaches 2.3 events as |U|^2 grows, at each mass.

    The table holds four rows (m_N [GeV], |U|^2, tau0 [s], events) over a 100-mass x
    50-|U|^2 grid, |U|^2 varying slowest; the crossing is interpolated linearly in
    (log |U|^2, log events). Masses whose rate never reaches 2.3 are left out.

    Args:
        data_dir: the data folder.

    Returns:
        The limit.

    Raises:
        DataFileError: the table is missing, modified or not 4 rows on a full grid.
    """
    path = verify(TABLE_FILE, data_dir)
    table = np.loadtxt(path, ndmin=2)
    masses = np.unique(table[0]) if table.shape[0] == 4 else np.empty(0)
    if table.shape[0] != 4 or table.shape[1] % max(masses.size, 1) or masses.size < 2:
        msg = f"{path}: expected 4 rows (m4, USQR, tau0, events) on a full grid"
        raise DataFileError(msg)
    n_u2 = table.shape[1] // masses.size
    mass = table[0].reshape(n_u2, masses.size)
    u2 = table[1].reshape(n_u2, masses.size)
    events = table[3].reshape(n_u2, masses.size)
    found_m, found_u2 = [], []
    for j in range(masses.size):
        above = np.flatnonzero(events[:, j] >= _LEVEL)
        if above.size == 0 or above[0] == 0:
            continue
        i = above[0]
        lo, hi = np.log(events[i - 1:i + 1, j])
        x = (np.log(_LEVEL) - lo) / (hi - lo)
        found_m.append(1e3 * mass[i, j])
        found_u2.append(float(np.exp(np.log(u2[i - 1, j]) + x * np.log(u2[i, j] / u2[i - 1, j]))))
    return TableLimit(np.array(found_m), np.array(found_u2))
