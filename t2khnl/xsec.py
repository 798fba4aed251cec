"""Fast tables of the dipole-portal upscattering cross sections, from DarkNews's own amplitudes.

The process is nu_mu A -> N A through a transition magnetic moment (Dirac HNL N). DarkNews
0.4.8 (``DarkNews.amplitudes.upscattering_dxsec_dQ2``) gives the helicity-resolved
dsigma/dQ^2 analytically; its own total cross section integrates that with vegas, one energy at
a time (SIREN's DarkNews wrapper spends 23-104 s per nucleus and channel filling its tables).
Here the same amplitude is evaluated on a grid, vectorised over energy and Q^2, and integrated
with composite Gauss-Legendre quadrature in ln Q^2: every nucleus of a detector model at one
mass takes about a second.

Conventions (all checked against the installed sources, see tests/test_xsec.py):

* Coupling: every table is for **d = 1 GeV^-1**, where the Lagrangian is
  ``d * nubar_mu sigma_{mu nu} F^{mu nu} N + h.c.``. DarkNews's ``mu_tr_mu4`` is ``2 d``
  (``t_aj = mu_tr / 2``). Cross sections scale as d^2.
* Helicity: DarkNews computes the two helicities of the outgoing N separately
  ("conserving" h = -1, "flipping" h = +1); the unpolarised physical rate is their sum.
  SIREN's DarkNews setup with ``noHC=True`` keeps only "flipping" and so drops the conserving
  part (m_N = 0.47 GeV: ~10% of sigma at 1 GeV on C12, ~7% on Pb208, 0.1% at 5 GeV; more
  near threshold). The tables keep both.
* Channels: ``"coherent"`` (whole nucleus, A > 1), ``"p-el"`` (elastic scattering on each
  of the Z protons, DarkNews's incoherent channel, sigma = Z * sigma(free proton)) and
  ``"n-el"`` (on each of the A - Z neutrons through the neutron's magnetic moment,
  sigma = (A - Z) * sigma(free neutron)). Hydrogen has only ``"p-el"`` (DarkNews does not run
  "coherent" on a single nucleon). DarkNews 0.4.8's own ``n-el`` is identically zero for the
  dipole portal (its TMM amplitude carries the target charge Z = 0 as an overall factor,
  docs/darknews.md); the free-neutron table here evaluates the same amplitude for a nucleon
  whose charge is carried by its form factors (Z = 1, F1 = F1n ~ 0, F2 = F2n, Galster, at the
  neutron mass), which tests/test_lagrangian.py checks against the Lagrangian. The tables are
  those of free nucleons; what binding changes (Pauli blocking) is :mod:`t2khnl.nucleons`.
* Q^2 range: like DarkNews's integrand, Q <= 2 GeV for coherent and Q <= 5 GeV for p-el.
* Units: GeV for energies and masses, cm^2 for cross sections.

:func:`cached_tables` keeps the tables of each (mass, targets, channels) on disk, so a scan
that simulates both beams at a mass, or is rerun, builds them once.

SIREN's C++ ``HNLDipoleFromTable`` (tag v0.1) is fed through its file interface (the python
bindings of siren 0.1.0 do not expose ``Interpolator1D/2D``). What it expects, from its source:
``TotalCrossSection = dipole_coupling^2 * (table(E) + n_protons * table_H(E))`` (the proton
term only when ``inelastic``), converted from GeV^-2 only if ``in_invGeV``; the differential
table is f(E, z) with ``z = (y - yMin) / (yMax - yMin)``, y = Q^2 / (2 M E) and yMin/yMax
from its own ``DipoleyMin/DipoleyMax``. ``dipole_coupling`` multiplies whatever the table is
normalised to: here d in GeV^-1. :func:`siren_cross_sections` builds one object per target
and adds the p-el term to each nucleus's own table rather than through ``inelastic``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import files
from ._version import __version__
from .errors import ComputationError, InputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

logger = logging.getLogger(__name__)

__all__ = [
    "CHANNELS",
    "FREE_NUCLEON_PDG",
    "HELICITIES",
    "INERT_CM2",
    "MU_NEUTRON",
    "MU_TR_PER_D",
    "M_NEUTRON_GEV",
    "NEUTRON_PDG",
    "PROTON_PDG",
    "CrossSectionTable",
    "build_tables",
    "cached_tables",
    "heaviest_hnl_gev",
    "is_open",
    "neutron_form_factors",
    "nucleon_count",
    "nucleus_name",
    "scatterer_mass_gev",
    "siren_cross_sections",
    "siren_y_bounds",
    "tables_cache_path",
    "threshold_energy",
    "write_siren_table_files",
]

#: DarkNews's ``mu_tr_mu4`` per unit of the dipole coupling d (d = mu_tr / 2).
MU_TR_PER_D = 2.0
#: Helicities of the outgoing HNL, in DarkNews's words; index 0 and 1 of the table arrays.
HELICITIES = ("conserving", "flipping")
#: Upscattering channels supported.
CHANNELS = ("coherent", "p-el", "n-el")
#: PDG code of hydrogen (SIREN's ``HNucleus``), which holds the per-proton p-el table.
PROTON_PDG = 1000010010
#: Key (nuclear code, Z = 0, A = 1) of the free-neutron n-el table; not a SIREN target.
NEUTRON_PDG = 1000000010
#: The free-nucleon table each incoherent channel scales per nucleus.
FREE_NUCLEON_PDG = {"p-el": PROTON_PDG, "n-el": NEUTRON_PDG}
#: Neutron mass [GeV] (CODATA 2018) and magnetic moment [nuclear magnetons] (CODATA 2018).
M_NEUTRON_GEV = 0.93956542052
MU_NEUTRON = -1.91304273
#: Dipole mass [GeV] of the nucleon form factors, as DarkNews's proton ones
#: (``nuclear_tools.D``), and Galster's parameter of G_E^n (Nucl. Phys. B32, 221 (1971)).
_DIPOLE_MASS_GEV = 0.843
_GALSTER_P = 5.6

#: Largest Q [GeV] in DarkNews's total-cross-section integrand, per channel.
_QMAX_GEV = {"coherent": 2.0, "p-el": 5.0, "n-el": 5.0}
#: Default top of the energy grid [GeV]: the T2K flux files end at 30 GeV, and SIREN's
#: ``HNLDipoleFromTable.TotalCrossSection`` throws above the table range.
_EMAX_GEV = 30.0
#: First energy node sits this fraction below threshold (value 0): SIREN computes its own
#: threshold from atomic masses (up to ~7e-4 heavier than DarkNews's nuclear ones, hence a
#: lower threshold) and throws for energies below the table.
_BELOW = 1e-2
#: Value written instead of zero: SIREN's interpolators work in log(f) and mishandle f <= 0.
_FLOOR = 1e-300
#: SIREN total cross sections [cm^2] at or below this come from the floor (the inert
#: hydrogen entries of :func:`siren_cross_sections`): 1e-300 x d^2, while a real one at
#: any sensible d is above 1e-100.
INERT_CM2 = 1e-250
#: Composite Gauss-Legendre rule in ln Q^2: panels x nodes per panel. 12 x 8 agrees with
#: 48 x 8 to 2e-7 on C12, O16, Ar40, Fe56 and Pb208 at 0.01, 0.2 and 1 GeV (at a third of
#: the cost); the tables' error is their interpolation in E (~0.3%).
_N_PANELS = 12
_N_NODES = 8
#: Points of the default energy grids of the total and the differential tables.
_N_ENERGIES = 500
_N_DIFF_ENERGIES = 200
#: Points of the uniform energy grid of the total cross sections handed to SIREN.
_N_SIREN_TOTAL = 6000
#: Bottom of the dense part of the z grid of the differential tables (see ``_z_grid``).
_Z_DENSE = 1e-5
#: Default subsampling (energy, z) of the differential tables handed to SIREN.
_SIREN_DIFF_STRIDE = (1, 1)


@dataclass(frozen=True)
class CrossSectionTable:
    """Upscattering cross sections of one target and channel, at one HNL mass, for d = 1/GeV.

    Attributes:
        mass_gev: HNL mass [GeV].
        target_pdg: nucleus PDG code (``100ZZZAAA0``).
        channel: ``"coherent"``, ``"p-el"`` or ``"n-el"``.
        multiplicity: number of scattering centres included in the arrays (1 for coherent,
            Z for p-el, A - Z for n-el: Z or A - Z times the free-nucleon arrays).
        scatterer_mass_gev: mass of what the neutrino scatters on (nucleus or proton) [GeV].
        threshold_gev: neutrino energy threshold m + m^2 / (2 M) [GeV].
        energies_gev: energy grid [GeV], shape (nE,); the first point is just below threshold.
        total_cm2: sigma(E) [cm^2] for d = 1 GeV^-1, shape (2, nE), index 0 = conserving,
            1 = flipping helicity; zero below threshold.
        diff_energies_gev: energy grid of the differential table [GeV], shape (nEd,).
        z: SIREN's differential variable grid, shape (nz,), in (0, 1].
        dsigma_dy_cm2: dsigma/dy [cm^2] for d = 1 GeV^-1 at (E, z), shape (2, nEd, nz), with
            y = Q^2 / (2 M E) and z = (y - yMin) / (yMax - yMin) per SIREN's yMin/yMax.
    """

    mass_gev: float
    target_pdg: int
    channel: str
    multiplicity: int
    scatterer_mass_gev: float
    threshold_gev: float
    energies_gev: NDArray[np.float64]
    total_cm2: NDArray[np.float64]
    diff_energies_gev: NDArray[np.float64]
    z: NDArray[np.float64]
    dsigma_dy_cm2: NDArray[np.float64]

    def total(self, energy_gev: NDArray[np.float64] | float, d_gev_inv: float = 1.0) -> Any:
        """Unpolarised total cross section [cm^2] at ``energy_gev`` [GeV] for coupling d [1/GeV].

        Log-log interpolation of the table in E (accuracy ~0.3%); zero at and below threshold.
        """
        e = np.asarray(energy_gev, dtype=float)
        tot = self.total_cm2.sum(axis=0)
        return _loglog(e, self.energies_gev, tot, self.threshold_gev) * d_gev_inv**2


def _loglog(
    e: NDArray[np.float64], grid: NDArray[np.float64], values: NDArray[np.float64],
    threshold: float,
) -> NDArray[np.float64]:
    """Interpolate ``values`` (>= 0, zero at and below threshold) log-log in E."""
    good = values > 0
    val = np.exp(np.interp(np.log(np.clip(e, grid[good][0], None)), np.log(grid[good]),
                           np.log(values[good])))
    return np.where(e > threshold, val, 0.0)


def threshold_energy(mass_gev: float, target_mass_gev: float) -> float:
    """Neutrino energy threshold [GeV] of nu A -> N A: m + m^2 / (2 M), masses in GeV."""
    return mass_gev + mass_gev**2 / (2.0 * target_mass_gev)


def heaviest_hnl_gev(energy_gev: float, target_mass_gev: float) -> float:
    """Heaviest HNL [GeV] a neutrino of ``energy_gev`` can make on a scatterer of mass
    ``target_mass_gev`` [GeV] at rest: the root of :func:`threshold_energy` = E,
    M (sqrt(1 + 2E/M) - 1)."""
    ratio = 2.0 * energy_gev / target_mass_gev
    # M (sqrt(1 + x) - 1) = M x / (sqrt(1 + x) + 1), without cancellation for M >> E
    return target_mass_gev * ratio / (math.sqrt(1.0 + ratio) + 1.0)


@cache
def scatterer_mass_gev(pdg: int, channel: str) -> float:
    """Mass [GeV] of what a neutrino upscatters on, DarkNews's value: the nucleus with PDG
    code ``pdg`` (``"coherent"``), a proton (``"p-el"``) or a neutron (``"n-el"``).

    Raises:
        InputError: unknown channel, or a PDG code DarkNews lacks.
    """
    from DarkNews import const
    from DarkNews.nuclear_tools import NuclearTarget

    _checked_channels((channel,))
    if channel == "p-el":
        return float(const.m_proton)
    if channel == "n-el":
        return M_NEUTRON_GEV
    name = nucleus_name(pdg)
    _route_darknews_logs()
    return float(NuclearTarget(name).mass)


def is_open(mass_gev: float, pdg: int, channel: str, emax_gev: float) -> bool:
    """Whether an HNL of ``mass_gev`` [GeV] can be made on target ``pdg`` through ``channel``
    by neutrinos below ``emax_gev`` [GeV]. (Hydrogen has no coherent channel.)"""
    if channel == "coherent" and (pdg // 10) % 1000 <= 1:
        return False
    return threshold_energy(mass_gev, scatterer_mass_gev(pdg, channel)) < emax_gev


def siren_y_bounds(
    energy: NDArray[np.float64], m: float, big_m: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """y = Q^2/(2 M E) bounds exactly as SIREN v0.1's ``HNLDipoleFromTable::DipoleyMin/Max``.

    They define SIREN's z variable, so the table must be filled on the same mapping. (Its
    extra cos(theta) bound is round-off-limited and cuts a little phase space right at
    threshold on heavy nuclei; kept as is, since SIREN applies it.)
    """
    e = np.asarray(energy, dtype=float)
    m2, mm2 = m * m, big_m * big_m
    s = 2 * e * big_m + mm2
    r2, r4 = m2 / s, m2 * m2 / (s * s)
    a2, a4 = mm2 / s, mm2 * mm2 / (s * s)
    a2sub1sq = (a2 - 1.0) ** 2
    root_term = 4 * e * e * mm2 - 4 * e * big_m * m2 - 4 * mm2 * m2 + m2 * m2
    sqrt_rt = np.sqrt(np.clip(root_term, 0.0, None))
    with np.errstate(invalid="ignore"):
        root = np.sqrt(np.clip(a2sub1sq + (r4 - 2 * (1 + a2) * r2), 0.0, None))
        ymin_full = 0.5 * (1 + a4 - r2 - root + a2 * (-2 - r2 + root)) * s / (2 * e * big_m)
    ymin_small = (s * a2 * r4 / a2sub1sq) / (2 * e * big_m)
    ymin = np.where(r2 < 1e-6, ymin_small, ymin_full)
    cb_low = (1.0 / (2 * s)) * (2 * e * big_m - m2 - big_m * m2 / e - sqrt_rt)
    ymin = np.maximum(ymin, cb_low)
    cb_high = (1.0 / (2 * s)) * (2 * e * big_m - m2 - big_m * m2 / e) + sqrt_rt
    ymax = 0.5 * (mm2 * mm2 - m2 * s + s * s - mm2 * (m2 + 2 * s)
                  + (s - mm2) * np.sqrt(np.clip(mm2 * mm2 + (m2 - s) ** 2 - 2 * mm2 * (m2 + s),
                                                0.0, None))) / (s * 2 * e * big_m)
    return ymin, np.minimum(cb_high, ymax)


@cache
def nucleus_name(pdg: int) -> str:
    """DarkNews's name (e.g. ``"C12"``) of the nucleus with PDG code ``100ZZZAAA0``."""
    from DarkNews.nuclear_tools import elements_dic

    z, a = (pdg // 10000) % 1000, (pdg // 10) % 1000
    if pdg // 10**9 != 1 or z < 1 or a < z:
        msg = f"target PDG code {pdg} is not a nucleus (100ZZZAAAI)"
        raise InputError(msg)
    for name, entry in elements_dic.items():
        if entry["Z"] == z and entry["A"] == a:
            return name
    msg = f"DarkNews has no nucleus with Z={z}, A={a} (PDG {pdg})"
    raise InputError(msg)


class _LastCallCache:
    """Remember a form-factor function's last input and output (same values -> same output).

    DarkNews evaluates the nuclear form factor twice per amplitude call (EM and NC slots hold
    the same function) and we call the amplitude once per helicity on identical Q^2 arrays:
    caching cuts the dominant cost (the Fourier-Bessel sum) by 4 without changing a value.
    """

    def __init__(self, func: Any) -> None:
        self.func = func
        self.last_in: NDArray[np.float64] | None = None
        self.last_out: Any = None

    def __call__(self, q2: Any) -> Any:
        q2 = np.asarray(q2)
        if (self.last_in is None or self.last_in.shape != q2.shape
                or not np.array_equal(self.last_in, q2)):
            self.last_out = self.func(q2)
            self.last_in = q2.copy()
        return self.last_out


def _fast_form_factor(func: Any) -> Any:
    """Plain-numpy copy of DarkNews's Fourier-Bessel nuclear form factor (same formula).

    ``DarkNews.nuclear_tools.nuclear_F1_fourier_bessel_EM`` recomputes sin(qR)/(qR) with
    masked arrays for each of its ~15 terms; this evaluates it once and sums the terms as a
    matrix product (~10x faster; equal to DarkNews's to rounding, see the tests). Other form
    factors (e.g. the symmetrised Fermi one of He4) are returned unchanged.
    """
    from DarkNews import const
    from DarkNews.nuclear_tools import nuclear_F1_fourier_bessel_EM

    if not (isinstance(func, partial) and func.func is nuclear_F1_fourier_bessel_EM):
        return func
    coeff = np.asarray(func.keywords["array_coeff"], dtype=float)
    radius, ai = coeff[-1], coeff[:-1]
    idx = np.nonzero(ai)[0]
    n = idx + 1.0
    signed = ai[idx] * (-1.0) ** n * radius**3
    norm = np.sum(radius**3 * (-1.0) ** n / np.pi**2 / n**2 * ai[idx])

    def form_factor(q2: Any) -> Any:
        x = np.sqrt(np.asarray(q2, dtype=float)).ravel() * const.fm_to_GeV * radius
        with np.errstate(divide="ignore", invalid="ignore"):
            j0 = np.where(x > 0, np.sin(x) / np.where(x > 0, x, 1.0), 1.0)
        terms = signed[None, :] / ((n[None, :] * np.pi) ** 2 - x[:, None] ** 2)
        return np.abs(j0 * terms.sum(axis=1) / norm)

    return form_factor


def _route_darknews_logs() -> None:
    """DarkNews attaches its own stdout handlers; send its records through ours instead
    (stderr via the CLI's logging set-up), so stdout keeps only our results.

    Its warnings are raised to errors only: the one it repeats for every table ("nuclear
    density for <nucleus> not tabulated ... symmetrized Fermi form factor") states the
    form factor DarkNews uses for those nuclei, which these tables keep (see
    :func:`_fast_form_factor`), not a problem of the run.
    """
    for name in ("logger.DarkNews", "prettyprinter.DarkNews"):
        logging.getLogger(name).handlers.clear()
    logging.getLogger("logger.DarkNews").setLevel(logging.ERROR)


def neutron_form_factors(q2_gev2: Any) -> tuple[Any, Any]:
    """The neutron's Dirac and Pauli form factors (F1n, F2n) at Q^2 [GeV^2].

    Sachs G_M^n = mu_n G_D and Galster's G_E^n = -mu_n tau G_D / (1 + 5.6 tau), tau =
    Q^2 / (4 M_n^2), with the dipole G_D = (1 + Q^2 / 0.843^2)^-2 of DarkNews's proton;
    F1 = (G_E + tau G_M) / (1 + tau), F2 = (G_M - G_E) / (1 + tau). F1n(0) = 0 (no charge),
    F2n(0) = mu_n = -1.913.
    """
    q2 = np.asarray(q2_gev2, dtype=float)
    tau = q2 / (4 * M_NEUTRON_GEV**2)
    g_d = 1.0 / (1.0 + q2 / _DIPOLE_MASS_GEV**2) ** 2
    g_e = -MU_NEUTRON * tau * g_d / (1.0 + _GALSTER_P * tau)
    g_m = MU_NEUTRON * g_d
    return (g_e + tau * g_m) / (1.0 + tau), (g_m - g_e) / (1.0 + tau)


class _FreeNeutron:
    """A free neutron as DarkNews's nucleon amplitudes read their target: charge unit Z = 1
    (DarkNews multiplies the whole TMM term by Z^2; the neutron's zero charge is in F1n),
    the neutron mass and :func:`neutron_form_factors`. The NC form factors are never used
    (only the TMM diagram is asked for) but DarkNews evaluates them."""

    is_nucleus, is_nucleon, is_proton, is_neutron = False, True, False, True
    Z, N, A, mass = 1, 0, 1, M_NEUTRON_GEV

    def __init__(self, bound: Any) -> None:
        self.F1_NC, self.F2_NC, self.F3_NC = bound.F1_NC, bound.F2_NC, bound.F3_NC

    @staticmethod
    def F1_EM(q2: Any) -> Any:
        return neutron_form_factors(q2)[0]

    @staticmethod
    def F2_EM(q2: Any) -> Any:
        return neutron_form_factors(q2)[1]


def _processes(mass_gev: float, pdg: int, channel: str) -> list[Any]:
    """DarkNews UpscatteringProcess objects (conserving, flipping) for d = 1 GeV^-1.

    For the free neutron (``pdg`` = :data:`NEUTRON_PDG`, channel n-el) the processes are
    DarkNews's n-el ones with their target replaced by :class:`_FreeNeutron`.
    """
    import DarkNews as dn
    from DarkNews.nuclear_tools import NuclearTarget

    _route_darknews_logs()

    model = dn.model.ThreePortalModel(
        m4=mass_gev, mu_tr_mu4=MU_TR_PER_D * 1.0, UD4=0.0, Umu4=0.0, epsilon=0.0, gD=0.0,
        HNLtype="dirac",
    )
    if pdg == NEUTRON_PDG:
        procs = [
            dn.processes.UpscatteringProcess(
                nu_projectile=dn.pdg.numu, nu_upscattered=dn.pdg.neutrino4,
                nuclear_target=NuclearTarget("C12"), scattering_regime="n-el",
                TheoryModel=model, helicity=h,
            )
            for h in HELICITIES
        ]
        for proc in procs:
            proc.target = _FreeNeutron(proc.target)
            proc.MA, proc.target_multiplicity = M_NEUTRON_GEV, 1
            proc.Ethreshold = threshold_energy(mass_gev, M_NEUTRON_GEV)
        return procs
    # DarkNews sets the form factors (F1_EM, F1_NC) on the instance, untyped.
    target: Any = NuclearTarget(nucleus_name(pdg))
    if target.is_nucleus:
        cached = _LastCallCache(_fast_form_factor(target.F1_EM))
        if target.F1_NC is target.F1_EM:
            target.F1_NC = cached
        target.F1_EM = cached
    return [
        dn.processes.UpscatteringProcess(
            nu_projectile=dn.pdg.numu, nu_upscattered=dn.pdg.neutrino4, nuclear_target=target,
            scattering_regime=channel, TheoryModel=model, helicity=h,
        )
        for h in HELICITIES
    ]


def _dsigma_dq2(process: Any, energy: NDArray[np.float64], q2: NDArray[np.float64]) -> Any:
    """DarkNews's dsigma/dQ^2 [cm^2/GeV^2] per scatterer (no multiplicity), broadcast arrays.

    Same kinematics as DarkNews's vegas integrand (u = 2 M^2 + m^2 - s - t); note that
    ``UpscatteringProcess.diff_xsec_Q2`` writes ``m`` instead of ``m^2`` in u.
    """
    from DarkNews import amplitudes

    big_m, m = process.MA, process.m_ups
    e_b, q2_b = np.broadcast_arrays(np.asarray(energy, dtype=float), np.asarray(q2, dtype=float))
    e_f, q2_f = e_b.ravel(), q2_b.ravel()  # DarkNews's Fourier-Bessel form factors need 1-D
    s = big_m**2 + 2 * e_f * big_m
    u = 2 * big_m**2 + m**2 - s + q2_f
    # Only the transition-magnetic-moment diagram is non-zero in this model (no Z', no
    # mixing); asking for it alone skips DarkNews's zero-coupling NC term (a test checks).
    out = amplitudes.upscattering_dxsec_dQ2([s, -q2_f, u], process=process,
                                            diagrams=["TMM_SQR"])
    return np.asarray(out, dtype=float).reshape(e_b.shape)


def _q2_bounds(energy: NDArray[np.float64], m: float, big_m: float) -> tuple[Any, Any]:
    from DarkNews import phase_space

    return (np.asarray(phase_space.upscattering_Q2min(energy, m, big_m), dtype=float),
            np.asarray(phase_space.upscattering_Q2max(energy, m, big_m), dtype=float))


def _default_energies(threshold: float, emax: float, n: int = _N_ENERGIES) -> NDArray[np.float64]:
    """Grid from 1% below threshold to ``emax``, dense above threshold (log in E - E_th)."""
    excess = np.geomspace(1e-4 * threshold, emax - threshold, n - 1)
    return np.concatenate([[threshold * (1.0 - _BELOW)], threshold + excess])


def _diff_energies(threshold: float, emax: float, n: int = _N_DIFF_ENERGIES) -> NDArray[np.float64]:
    """Energy nodes of the differential table: log in E - E_th from 1e-3 E_th (the
    differential shape matters less than sigma right at threshold)."""
    excess = np.geomspace(1e-3 * threshold, emax - threshold, n - 1)
    return np.concatenate([[threshold * (1.0 - _BELOW)], threshold + excess])


def _z_grid(ymin: NDArray[np.float64], ymax: NDArray[np.float64]) -> NDArray[np.float64]:
    """z grid for SIREN's differential table: log-spaced from 1% of the smallest
    yMin / (yMax - yMin) of the energy grid, 12 per decade below z = 1e-5 and 25 per decade
    above, plus linear points towards z = 1.

    Above z ~ yMin / (yMax - yMin) the table goes as ~1/y, exact for SIREN's log-log
    interpolation, until the form factor's diffraction pattern, which reaches down to
    z ~ 1e-5 only for the heaviest nuclei at the top of the flux; below, f is flat. The
    sparser bottom leaves the deviations from DarkNews unchanged (tests/test_xsec.py) with
    1.3-1.5x fewer lines for SIREN to parse.
    SIREN returns 0 below the first node, i.e. for y < yMin (1 + 0.01) at worst: ~0.1% of
    sigma, never sampled."""
    ratio = np.min(ymin / (ymax - ymin))
    z_lo = float(np.clip(1e-2 * ratio, 1e-18, 1e-3))
    z_dense = max(z_lo, _Z_DENSE)
    sparse = np.geomspace(z_lo, z_dense, int(np.ceil(12 * np.log10(z_dense / z_lo))) + 1)
    dense = np.geomspace(z_dense, 1.0, int(np.ceil(25 * -np.log10(z_dense))) + 1)
    return np.unique(np.concatenate([sparse, dense, np.linspace(0.5, 1.0, 26)]))


def _table_for(
    mass_gev: float, pdg: int, channel: str, energies: NDArray[np.float64] | None,
    emax: float,
) -> CrossSectionTable:
    procs = _processes(mass_gev, pdg, channel)
    proc = procs[0]
    big_m, mult = float(proc.MA), int(proc.target_multiplicity)
    e_th = threshold_energy(mass_gev, big_m)
    egrid = (_default_energies(e_th, emax) if energies is None
             else np.unique(np.asarray(energies, dtype=float)))
    above = egrid > e_th
    ea = egrid[above]

    # total: composite Gauss-Legendre in ln Q^2, vectorised over energies
    q2lo, q2hi = _q2_bounds(ea, mass_gev, big_m)
    q2hi = np.minimum(q2hi, _QMAX_GEV[channel] ** 2)
    x, w = np.polynomial.legendre.leggauss(_N_NODES)
    edges = np.linspace(0.0, 1.0, _N_PANELS + 1)
    t = (edges[:-1, None] + (x[None, :] + 1) / 2 * np.diff(edges)[:, None]).ravel()
    wt = (w[None, :] / 2 * np.diff(edges)[:, None]).ravel()
    llo, lhi = np.log(q2lo)[:, None], np.log(q2hi)[:, None]
    q2 = np.exp(llo + (lhi - llo) * t[None, :])
    jac = (lhi - llo) * q2 * wt[None, :]
    total = np.zeros((len(HELICITIES), egrid.size))
    for i, p in enumerate(procs):
        total[i, above] = mult * np.sum(_dsigma_dq2(p, ea[:, None], q2) * jac, axis=1)
    # differential on SIREN's (E, z) grid, with its own energy nodes
    dgrid = (_diff_energies(e_th, emax) if energies is None else egrid)
    dabove = dgrid > e_th
    ed = dgrid[dabove]
    ymin, ymax = siren_y_bounds(ed, mass_gev, big_m)
    z = _z_grid(ymin, ymax)
    y = ymin[:, None] + z[None, :] * (ymax - ymin)[:, None]
    q2d = 2 * big_m * ed[:, None] * y
    lo, hi = _q2_bounds(ed, mass_gev, big_m)
    # SIREN's bounds equal DarkNews's up to rounding (z = 1 must not fall outside)
    inside = (q2d >= lo[:, None] * (1 - 1e-6)) & (q2d <= hi[:, None] * (1 + 1e-6))
    q2d = np.clip(q2d, lo[:, None], hi[:, None])
    diff = np.zeros((len(HELICITIES), dgrid.size, z.size))
    for i, p in enumerate(procs):
        diff[i][dabove] = mult * 2 * big_m * ed[:, None] * np.where(
            inside, _dsigma_dq2(p, ed[:, None], q2d), 0.0)
    return CrossSectionTable(
        mass_gev=mass_gev, target_pdg=pdg, channel=channel, multiplicity=mult,
        scatterer_mass_gev=big_m, threshold_gev=e_th, energies_gev=egrid,
        total_cm2=np.clip(total, 0.0, None), diff_energies_gev=dgrid, z=z,
        dsigma_dy_cm2=np.clip(diff, 0.0, None),
    )


def build_tables(
    mass_gev: float,
    targets_pdg: Sequence[int],
    *,
    channels: Iterable[str] = CHANNELS,
    energies_gev: Sequence[float] | None = None,
    emax_gev: float = _EMAX_GEV,
) -> dict[tuple[int, str], CrossSectionTable]:
    """Tabulate sigma(E) and dsigma/dy(E, z) for every target and channel at one HNL mass.

    Args:
        mass_gev: HNL mass [GeV].
        targets_pdg: nucleus PDG codes (``1000060120`` for C12; ``1000010010`` for hydrogen).
        channels: any of ``"coherent"``, ``"p-el"``, ``"n-el"`` (default all). Hydrogen has
            only p-el; an incoherent channel always includes its free-nucleon table (keys
            ``(1000010010, "p-el")``, also hydrogen's own, and ``(NEUTRON_PDG, "n-el")``).
            A target and channel whose threshold (:func:`threshold_energy`) is at or above
            the top of the energy grid gets no table (nothing below it can make the HNL).
        energies_gev: common energy grid [GeV]; default per target, 500 points from just
            below threshold to ``emax_gev``, dense near threshold.
        emax_gev: top of the default grid [GeV] (30: SIREN throws above the table).

    Returns:
        ``{(pdg, channel): CrossSectionTable}``, cross sections in cm^2 for d = 1 GeV^-1.

    Raises:
        InputError: unknown channel, non-positive mass, or a PDG code DarkNews lacks.
    """
    chans = _checked_channels(channels)
    if not mass_gev > 0:
        msg = f"HNL mass must be positive, got {mass_gev} GeV"
        raise InputError(msg)
    energies = None if energies_gev is None else np.asarray(energies_gev, dtype=float)
    top = emax_gev if energies is None else float(np.max(energies))
    tables: dict[tuple[int, str], CrossSectionTable] = {}
    free = {channel: _table_for(mass_gev, FREE_NUCLEON_PDG[channel], channel, energies,
                                emax_gev)
            for channel in FREE_NUCLEON_PDG
            if channel in chans and is_open(mass_gev, FREE_NUCLEON_PDG[channel], channel, top)}
    tables.update({(FREE_NUCLEON_PDG[channel], channel): t for channel, t in free.items()})
    for pdg in dict.fromkeys(int(p) for p in targets_pdg):
        name = nucleus_name(pdg)
        if "coherent" in chans and is_open(mass_gev, pdg, "coherent", top):
            tables[(pdg, "coherent")] = _table_for(mass_gev, pdg, "coherent", energies,
                                                   emax_gev)
        for channel, table in free.items():
            if pdg != FREE_NUCLEON_PDG[channel] and nucleon_count(pdg, channel) > 0:
                tables[(pdg, channel)] = _nucleons_of(table, pdg)
        logger.debug("tabulated %s (%d) at m_N = %g GeV", name, pdg, mass_gev)
    return tables


def _checked_channels(channels: Iterable[str]) -> tuple[str, ...]:
    """The channels as a tuple; InputError unless a non-empty subset of :data:`CHANNELS`."""
    chans = tuple(channels)
    if not chans or any(c not in CHANNELS for c in chans):
        msg = f"channels must be a non-empty subset of {CHANNELS}, got {chans}"
        raise InputError(msg)
    return chans


def nucleon_count(pdg: int, channel: str) -> int:
    """Protons (p-el) or neutrons (n-el) of the nucleus with PDG code ``100ZZZAAA0``."""
    z, a = _zpad(pdg)
    return z if channel == "p-el" else a - z


def _nucleons_of(free: CrossSectionTable, pdg: int) -> CrossSectionTable:
    """The incoherent table of nucleus ``pdg``: its proton (p-el) or neutron (n-el) count
    times the free-nucleon table ``free``."""
    count = nucleon_count(pdg, free.channel)
    return CrossSectionTable(
        mass_gev=free.mass_gev,
        target_pdg=pdg,
        channel=free.channel,
        multiplicity=count,
        scatterer_mass_gev=free.scatterer_mass_gev,
        threshold_gev=free.threshold_gev,
        energies_gev=free.energies_gev,
        total_cm2=count * free.total_cm2,
        diff_energies_gev=free.diff_energies_gev,
        z=free.z,
        dsigma_dy_cm2=count * free.dsigma_dy_cm2,
    )


#: Digest of this module as imported: t2khnl's version stays put between releases, so the
#: cache keys carry the code that built the tables.
_SOURCE_SHA256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
#: Array fields of :class:`CrossSectionTable`, stored in the cache files.
_ARRAY_FIELDS = ("energies_gev", "total_cm2", "diff_energies_gev", "z", "dsigma_dy_cm2")


def cached_tables(
    mass_gev: float,
    targets_pdg: Sequence[int],
    *,
    channels: Iterable[str] = CHANNELS,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[tuple[int, str], CrossSectionTable]:
    """:func:`build_tables` on its default grids, cached on disk (one ``.npz`` file per key
    and channel).

    Each channel's file (:func:`tables_cache_path`) is named by a hash of the mass, the
    sorted targets, the channel, the grid settings, this module's source and the versions of
    t2khnl, DarkNews and numpy, and written atomically: presets with other channels share
    the coherent tables. A file that cannot be read back (truncated, zip CRC-32 mismatch,
    another key inside) is rebuilt with a warning; a cache folder that cannot be written is
    skipped with a warning. The incoherent tables of nuclei (Z or A - Z times the free
    nucleon's) are not stored but rebuilt from the free nucleon's; a file takes ~20 MB for
    the 25 ND280 nuclei.

    Args:
        mass_gev: HNL mass [GeV].
        targets_pdg: nucleus PDG codes (order and repeats do not matter).
        channels: any of ``"coherent"``, ``"p-el"``, ``"n-el"`` (default all).
        cache_dir: cache folder (default ``$T2KHNL_CACHE_DIR/xsec``, else
            ``$XDG_CACHE_HOME/t2khnl/xsec``, else ``~/.cache/t2khnl/xsec``).

    Returns:
        What :func:`build_tables` returns for the targets in increasing PDG order.

    Raises:
        InputError: as :func:`build_tables`.
    """
    targets = sorted({int(p) for p in targets_pdg})
    tables = {}
    for channel in dict.fromkeys(_checked_channels(channels)):
        tables.update(_cached_channel(mass_gev, targets, channel, cache_dir))
    # build_tables's order: the free nucleons, then each target's channels
    order = [*((pdg, c) for c, pdg in FREE_NUCLEON_PDG.items()),
             *((t, c) for t in targets for c in CHANNELS)]
    return {key: tables[key] for key in order if key in tables}


def _cached_channel(mass_gev: float, targets: list[int], channel: str,
                    cache_dir: str | os.PathLike[str] | None,
                    ) -> dict[tuple[int, str], CrossSectionTable]:
    """One channel's tables, from its cache file or built and saved."""
    key = _cache_key(mass_gev, targets, (channel,))
    path = _cache_file(mass_gev, key, cache_dir)
    try:
        tables = _load_tables(path, key)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        logger.warning(
            "cross-section cache %s is unreadable (%s: %s); rebuilding it",
            path,
            type(err).__name__,
            err,
        )
    else:
        logger.debug("%s cross sections at m_N = %g GeV read from %s", channel, mass_gev,
                      path)
        return tables
    tables = build_tables(mass_gev, targets, channels=(channel,))
    try:
        _save_tables(path, key, tables)
    except OSError as err:
        logger.warning("cannot write the cross-section cache %s: %s", path, err)
    return tables


def tables_cache_path(
    mass_gev: float,
    targets_pdg: Sequence[int],
    *,
    channel: str = "coherent",
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """The file in which :func:`cached_tables` keeps one channel's tables for these
    arguments (it may not exist yet)."""
    return _cache_file(mass_gev, _cache_key(mass_gev, targets_pdg, (channel,)), cache_dir)


def _cache_key(mass_gev: float, targets_pdg: Iterable[int], channels: tuple[str, ...]) -> str:
    """Everything the default tables depend on, as canonical JSON."""
    import DarkNews

    return json.dumps(
        {
            "mass_gev": float(mass_gev),
            "targets_pdg": sorted({int(p) for p in targets_pdg}),
            "channels": sorted(set(channels)),
            "grid": {
                "emax_gev": _EMAX_GEV,
                "n_energies": _N_ENERGIES,
                "n_diff_energies": _N_DIFF_ENERGIES,
                "below_threshold": _BELOW,
                "qmax_gev": _QMAX_GEV,
                "gauss_legendre": [_N_PANELS, _N_NODES],
            },
            "source_sha256": _SOURCE_SHA256,
            "versions": {
                "t2khnl": __version__,
                "DarkNews": DarkNews.__version__,
                "numpy": np.__version__,
            },
        },
        sort_keys=True,
    )


def _cache_file(mass_gev: float, key: str, cache_dir: str | os.PathLike[str] | None) -> Path:
    if cache_dir is None:
        from .geometry import cache_root

        folder = cache_root().parent / "xsec"  # cache_root() is <cache>/geometry
    else:
        folder = Path(cache_dir)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]
    return folder / f"m{float(mass_gev):.6g}-{digest}.npz"


def _save_tables(path: Path, key: str, tables: dict[tuple[int, str], CrossSectionTable]) -> None:
    """Write the tables atomically, with the umask's mode (:func:`t2khnl.files.atomic_path`)."""
    index: list[dict[str, Any]] = []
    arrays: dict[str, NDArray[np.float64]] = {}
    for i, ((pdg, channel), table) in enumerate(tables.items()):
        derived = channel in FREE_NUCLEON_PDG and pdg != FREE_NUCLEON_PDG[channel]
        index.append({"target_pdg": pdg, "channel": channel, "derived": derived})
        if not derived:
            index[-1].update(
                mass_gev=table.mass_gev,
                multiplicity=table.multiplicity,
                scatterer_mass_gev=table.scatterer_mass_gev,
                threshold_gev=table.threshold_gev,
            )
            arrays.update({f"{i}.{name}": getattr(table, name) for name in _ARRAY_FIELDS})
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_path(path) as tmp, open(tmp, "wb") as file:
        np.savez(file, key=np.array(key), index=np.array(json.dumps(index)), **arrays)


def _load_tables(path: Path, key: str) -> dict[tuple[int, str], CrossSectionTable]:
    """Read a cache file; raises if it is damaged (zip CRC-32) or holds another key."""
    with np.load(path, allow_pickle=False) as data:
        if str(data["key"][()]) != key:
            msg = "it holds the tables of another key"
            raise ValueError(msg)
        tables: dict[tuple[int, str], CrossSectionTable] = {}
        for i, entry in enumerate(json.loads(str(data["index"][()]))):
            pdg, channel = int(entry["target_pdg"]), str(entry["channel"])
            if entry["derived"]:
                tables[(pdg, channel)] = _nucleons_of(
                    tables[(FREE_NUCLEON_PDG[channel], channel)], pdg)
                continue
            tables[(pdg, channel)] = CrossSectionTable(
                mass_gev=entry["mass_gev"],
                target_pdg=pdg,
                channel=channel,
                multiplicity=entry["multiplicity"],
                scatterer_mass_gev=entry["scatterer_mass_gev"],
                threshold_gev=entry["threshold_gev"],
                **{name: data[f"{i}.{name}"] for name in _ARRAY_FIELDS},
            )
    return tables


def _zpad(pdg: int) -> tuple[int, int]:
    return (pdg // 10000) % 1000, (pdg // 10) % 1000


def _every(n: int, step: int) -> NDArray[np.intp]:
    """Indices 0, step, 2 step, ... plus the last one."""
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


def _scientific_text(*columns: NDArray[np.float64]) -> bytes:
    """Whitespace-separated columns, one row per line, each value as ``d.ddddddddde+XXX``.

    Formatted with numpy arithmetic (10 significant digits, relative rounding <= 5e-10)
    instead of per-value string formatting, which cost ~3 s per ND280 mass point. Values
    must be finite and positive (the tables are floored at 1e-300).
    """
    rows = np.concatenate([_scientific_chars(np.asarray(c, dtype=float)) for c in columns],
                          axis=1)
    rows[:, -1] = ord("\n")
    return rows.tobytes()


def _grid_text(energies: NDArray[np.float64], zs: NDArray[np.float64],
               values: NDArray[np.float64]) -> bytes:
    """:func:`_scientific_text` of the columns (E, z, f) of a grid, rows in (E, z) order:
    each node value is formatted once, not once per row it appears in."""
    chars = np.empty((energies.size, zs.size, 3 * _CHARS), dtype=np.uint8)
    chars[:, :, :_CHARS] = _scientific_chars(energies)[:, None, :]
    chars[:, :, _CHARS:2 * _CHARS] = _scientific_chars(zs)[None, :, :]
    chars[:, :, 2 * _CHARS:] = _scientific_chars(values.ravel()).reshape(
        energies.size, zs.size, _CHARS)
    chars[:, :, -1] = ord("\n")
    return chars.tobytes()


#: Characters of one value in SIREN's text tables, the separator included.
_CHARS = 17


def _scientific_chars(values: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Each value as the characters ``d.ddddddddde+XXX `` (see :func:`_scientific_text`),
    shape (n, 17)."""
    if not (np.all(np.isfinite(values)) and np.all(values > 0)):
        msg = "only finite positive values can be written to SIREN's tables"
        raise ComputationError(msg)
    exponent = np.floor(np.log10(values)).astype(np.int64)
    digits = np.rint(values / 10.0**exponent * 1e9).astype(np.int64)
    low = digits < 10**9  # log10 rounded up across a power of ten
    exponent[low] -= 1
    digits[low] = np.rint(values[low] / 10.0 ** exponent[low] * 1e9)
    high = digits >= 10**10  # the mantissa rounded up to 10
    exponent[high] += 1
    digits[high] //= 10
    chars = np.empty((values.size, _CHARS), dtype=np.uint8)
    chars[:, 0] = digits // 10**9
    chars[:, 2:11] = (digits[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    magnitude = np.abs(exponent)
    chars[:, 13:16] = (magnitude[:, None] // np.array([100, 10, 1])) % 10
    chars[:, [0, *range(2, 11), 13, 14, 15]] += ord("0")
    chars[:, 1] = ord(".")
    chars[:, 11] = ord("e")
    chars[:, 12] = np.where(exponent < 0, ord("-"), ord("+"))
    chars[:, 16] = ord(" ")
    return chars


def _siren_diff_values(table: CrossSectionTable, times_y: bool) -> NDArray[np.float64]:
    """The differential table as SIREN reads it: helicities summed, times y if ``times_y``,
    shape (nEd, nz)."""
    dif = table.dsigma_dy_cm2.sum(axis=0)
    if times_y:
        ymin, ymax = siren_y_bounds(table.diff_energies_gev, table.mass_gev,
                                     table.scatterer_mass_gev)
        dif = dif * (ymin[:, None] + table.z[None, :] * (ymax - ymin)[:, None])
    return np.nan_to_num(dif)


def write_siren_table_files(
    tables: Sequence[CrossSectionTable], directory: str | os.PathLike[str],
    *, times_y: bool = True, stride: tuple[int, int] = (1, 1),
    total_from_gev: float | None = None,
) -> tuple[Path, Path]:
    """Write one target's tables, helicities summed, in the text format of SIREN's
    ``Add*CrossSectionFile``: the total of all its channels, and the differential of its
    lowest-threshold table (the coherent one, for a nucleus) alone.

    The total sets where and how often the target interacts; the differential only the
    shape SIREN samples y from. Incoherent upscatters (p-el, n-el) scatter on a nucleon, not
    on the nucleus whose mass SIREN's class puts in the kinematics: :mod:`t2khnl.nucleons`
    draws each event's channel from the totals and gives the incoherent ones their own
    nucleon-level kinematics, so SIREN's sample must hold the coherent shape only.
    File names follow what the C++ parses: ``..._Z_<Z>_A_<A>_mHNL_<m>_unpol.dat``. Values
    are cm^2 for d = 1 GeV^-1 (use ``in_invGeV=False``), floored at 1e-300 (SIREN
    interpolates log f and mishandles zeros).

    Args:
        tables: the target's tables (one mass, one target PDG code).
        directory: output folder.
        times_y: write y * dsigma/dy instead of dsigma/dy (see :func:`siren_cross_sections`).
        total_from_gev: start the total table here [GeV] if below the table's first energy
            (SIREN evaluates every target's total at every sampled energy).
        stride: keep every n-th (energy, z) node of the differential table (first and last
            always kept): SIREN's text parser and std::map cost ~2 us per line.

    Returns:
        (total file, differential file).
    """
    if len({(t.mass_gev, t.target_pdg) for t in tables}) != 1:
        msg = "write_siren_table_files takes the tables of one target at one mass"
        raise ComputationError(msg)
    base = min(tables, key=lambda t: t.threshold_gev)
    # SIREN v0.1's Interpolator1D crashes (segfault) on a grid it indexes in log(E): its
    # zero mask is filled past the end of an empty std::vector<bool> and lost when the
    # interpolator is copied. A uniform linear grid keeps it in linear mode.
    # One node sits exactly at threshold (value 0), so nothing leaks below it.
    step = (base.energies_gev[-1] - base.threshold_gev) / (_N_SIREN_TOTAL - 1)
    start = min(base.energies_gev[0], total_from_gev or base.energies_gev[0])
    n_below = int(np.ceil((base.threshold_gev - start) / step))
    e_lin = base.threshold_gev + step * np.arange(-n_below, _N_SIREN_TOTAL)
    tot = sum(_loglog(e_lin, t.energies_gev, t.total_cm2.sum(axis=0), t.threshold_gev)
              for t in tables)
    ie = _every(base.diff_energies_gev.size, stride[0])
    iz = _every(base.z.size, stride[1])
    energies, zs = base.diff_energies_gev[ie], base.z[iz]
    dif = _siren_diff_values(base, times_y)[np.ix_(ie, iz)]
    return _write_pair(base.target_pdg, base.mass_gev, directory,
                       (e_lin, np.maximum(tot, _FLOOR)), (energies, zs, np.maximum(dif, _FLOOR)))


def _write_pair(target_pdg: int, mass_gev: float, directory: str | os.PathLike[str],
                total: tuple[NDArray[np.float64], ...],
                differential: tuple[NDArray[np.float64], ...]) -> tuple[Path, Path]:
    """Write the total (E, sigma) columns and the differential grid (E nodes, z nodes,
    f of shape (E, z)) of a target at an HNL mass [GeV] under the file names SIREN parses."""
    zz, aa = _zpad(target_pdg)
    tag = f"Z_{zz}_A_{aa}_mHNL_{mass_gev:.15g}_unpol.dat"
    folder = Path(directory)
    tot_path, diff_path = folder / f"xsec_{tag}", folder / f"dxsec_{tag}"
    tot_path.write_bytes(_scientific_text(*total))
    diff_path.write_bytes(_grid_text(*differential))
    return tot_path, diff_path


def _write_inert_hydrogen(tables: Iterable[CrossSectionTable], directory: str | os.PathLike[str],
                          total_from_gev: float) -> tuple[Path, Path]:
    """Hydrogen tables of value 1e-300 spanning the tables' energies and z: the hydrogen
    entry SIREN's class looks up for every target, whether or not hydrogen interacts.

    3-point uniform linear grids (a 2-point grid would be indexed in log, see
    :func:`write_siren_table_files`).
    """
    tables = list(tables)
    e_top = max(t.energies_gev[-1] for t in tables)
    e_tot = np.linspace(total_from_gev, e_top, 3)
    e_diff = np.linspace(min(t.diff_energies_gev[0] for t in tables),
                         max(t.diff_energies_gev[-1] for t in tables), 3)
    z = np.linspace(min(t.z[0] for t in tables), 1.0, 3)
    return _write_pair(PROTON_PDG, tables[0].mass_gev, directory, (e_tot, np.full(3, _FLOOR)),
                       (e_diff, z, np.full((3, 3), _FLOOR)))


def siren_cross_sections(
    tables: dict[tuple[int, str], CrossSectionTable],
    d_gev_inv: float,
    *,
    table_dir: str | os.PathLike[str] | None = None,
    sampling_table: bool = True,
    stride: tuple[int, int] = _SIREN_DIFF_STRIDE,
) -> list[Any]:
    """Build SIREN's C++ ``HNLDipoleFromTable`` objects for the unpolarised upscattering rate.

    One object per target, each holding that target's tables: coherent plus, when the tables
    contain them, Z x the free-proton and A - Z x the free-neutron tables in the total
    (hydrogen has its own object with the free-proton table; the free neutron none).
    SIREN's ``inelastic`` option would add the p-el term itself, but only from a hydrogen
    table inside the same object, so one object would have to hold every target;
    and SIREN's ``GetPossibleTargets`` builds two std::sets of all the object's targets at
    every (target, event) lookup, which made injection cost grow as the square of the
    number of nuclei (ND280: 25). Every object still needs a hydrogen entry (the class looks
    it up for any target): the nucleus objects get an inert one (1e-300 on a 3-point grid),
    ignored by the injection's importance sampling.

    The tables are summed over the two HNL helicities: objects for each helicity would only
    differ in the helicity SIREN stamps on the HNL record, which t2khnl does not read (the
    decay is unpolarised, see :func:`t2khnl.model.sample_pair`). The objects carry the
    ``Conserving`` label; the sampled (E, y, target) distribution is that of the helicity sum.

    The differential tables hold the coherent shape only (:func:`write_siren_table_files`):
    the kinematics SIREN samples are those of coherent scattering for every event, and
    :func:`t2khnl.nucleons.reassign` replaces them for the incoherent ones.

    Args:
        tables: output of :func:`build_tables` (one mass).
        d_gev_inv: dipole coupling d [GeV^-1] (not DarkNews's mu_tr = 2 d).
        table_dir: where to write the text tables SIREN reads (default: a temporary
            folder, removed once the objects are built: they keep their own copy).
        sampling_table: fill the differential table with y * dsigma/dy (default) rather than
            dsigma/dy. SIREN v0.1's ``SampleFinalState`` runs Metropolis-Hastings with
            proposals uniform in log y and acceptance table(y') / table(y), so it draws y with
            density table(y) / y: only y * dsigma/dy gives the physical y distribution (with
            dsigma/dy the median y at 3 GeV on C12 comes out 2x too small). The price:
            ``DifferentialCrossSection`` / ``FinalStateProbability`` then return y times the
            density in y; they cancel in SIREN's weights as long as the same object serves as
            injection and physical process. Use False to make ``DifferentialCrossSection``
            equal dsigma/dy [cm^2] (e.g. to compare with DarkNews).
        stride: subsampling of the (energy, z) nodes of the differential tables handed to
            SIREN (default: all; reading them dominates the cost of this function; the
            totals, which set the rates, are unaffected).

    Returns:
        SIREN's process list, one object per target; ``TotalCrossSection`` in cm^2.
    """
    from ._siren import load as load_siren

    siren = load_siren()
    sdc, sint = siren.dataclasses, siren.interactions

    masses = {t.mass_gev for t in tables.values()}
    if len(masses) != 1:
        msg = f"tables must share one HNL mass, got {sorted(masses)}"
        raise InputError(msg)
    mass = masses.pop()
    by_target: dict[int, list[CrossSectionTable]] = {}
    for (pdg, _channel), table in sorted(tables.items()):
        if pdg != NEUTRON_PDG:
            by_target.setdefault(pdg, []).append(table)
    # SIREN evaluates every target's table at every sampled energy: start all of them at
    # the HNL mass, below every threshold, so that an object depends on its own target's
    # tables only (t2khnl.generate keeps them per target, across detectors).
    total_from = mass
    primaries = {sdc.ParticleType.NuMu, sdc.ParticleType.NuMuBar}
    label = sint.HNLDipoleFromTable.HelicityChannel.Conserving
    hydrogen = sdc.ParticleType(PROTON_PDG)
    processes = []
    with contextlib.ExitStack() as stack:
        if table_dir is None:
            # the objects keep their own copy of the tables: the folder (~80 MB for ND280) is
            # removed once they are built
            table_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="t2khnl_xs_"))
        folder = Path(table_dir)
        for pdg, own in by_target.items():
            xs = sint.HNLDipoleFromTable(mass, d_gev_inv, label, True, False, False, primaries)
            tot, dif = write_siren_table_files(own, folder, times_y=sampling_table,
                                               stride=stride, total_from_gev=total_from)
            xs.AddTotalCrossSectionFile(str(tot), sdc.ParticleType(pdg))
            xs.AddDifferentialCrossSectionFile(str(dif), sdc.ParticleType(pdg))
            if pdg != PROTON_PDG:
                inert_dir = folder / f"inert_{pdg}"
                inert_dir.mkdir(parents=True, exist_ok=True)
                inert = _write_inert_hydrogen(own, inert_dir, total_from)
                xs.AddTotalCrossSectionFile(str(inert[0]), hydrogen)
                xs.AddDifferentialCrossSectionFile(str(inert[1]), hydrogen)
            processes.append(xs)
    return processes
