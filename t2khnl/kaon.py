"""HNLs from kaon decays at ND280: the validation of arXiv:2412.15051 (Suppl. Fig. 1) against AFH.

A heavy neutral lepton N that mixes with nu_mu (|U_muN|²) is made in K+ -> mu+ N wherever
the beam makes K+ -> mu+ nu_mu, flies ~280 m to ND280 and decays there through its transition
magnetic moment mu_tr = 1e-6 GeV^-1 (d = mu_tr / 2 = 5e-7 GeV^-1, :func:`t2khnl.model.d_from_mu_tr`)
into nu e+ e- (via gamma*) inside the three TPC fiducial boxes. With zero background the 90%
CL upper limit is the |U|² that gives 2.303 events. The production is ∝ |U|², the decay is
fixed by d, so ``N(m, |U|²) = |U|² N(m, 1)`` and ``|U|²_lim(m) = 2.303 / N(m, 1)`` exactly.

Production (Shrock, Phys. Rev. D 24, 1232 (1981); AFH arXiv:2109.03831; their code
github.com/mhostert/HNL-DIF, ``hnl_apps/hnl_tools.py``): the HNL flux is the kaon nu_mu flux
times

    ρ = |U|² (a + b - (a - b)²) λ^{1/2}(1, a, b) / (a (1 - a)²),
    a = m_mu² / m_K²,  b = m_N² / m_K²,  λ(x, y, z) = x² + y² + z² - 2xy - 2yz - 2zx,

the rate Γ(K -> mu N) / Γ(K -> mu nu) per |U|². The mass ratios are **squared**: the helicity
factor is m_K² (m_mu² + m_N²) - (m_mu² - m_N²)² and λ^{1/2}(m_K², m_mu², m_N²)/(2 m_K) is the
two-body momentum, which vanishes at m_N = m_K - m_mu = 388.0 MeV. PHYSICS.md's
"a = m_mu/m_K, b = m_N/m_K" (unsquared) is a typo: it gives the same ρ -> |U|² for
m_N -> 0, but λ(1, a, b) would then vanish at m_N = m_K (1 - √(m_mu/m_K))² = 142.6 MeV,
cutting the spectrum off far below the kinematic endpoint. AFH's code and the seed
authors' final notebook (Dipole-HNL-T2K ``kaon/kaon2.ipynb``, ``rho``) use the squares.

Caveats of this flux (the same as AFH's): ρ is applied to the whole kaon-parent nu_mu flux
(``flux/kaon-flux-data.dat``), whose few-% K_mu3 and K_L parts do not scale that way; only
the FHC file exists here (AFH also added the FHC nu_mu-bar-from-kaon flux, +9%).

HNL kinematics (``kinematics=``): the flux file gives the nu_mu energy spectrum at ND280.

* ``"momentum"`` (default, what AFH did: ``dphi_dEN_app`` evaluates the nu flux at p_N):
  dΦ_N/dp_N (p) = ρ dΦ_nu/dE_nu (E_nu = p).
* ``"energy"``: E_N = E_nu, each flux bin relabelled (what a SIREN primary-HNL injection with
  the nu energy spectrum, as the seed authors ran, does); bins with E_nu <= m_N are lost.
* ``"collinear"``: exact two-body kinematics for parent kaons flying along the beam line. A
  neutrino reaching ND280 with energy E_nu came from a kaon with γ(1+β) = η = E_nu/E*_nu
  (E*_nu = 235.5 MeV); the same kaon sends N forward with p_± = γ p* ± γβ E* (rest-frame p*,
  E* of N; the "-" branch only when the kaon outruns N), and the forward solid-angle Jacobian
  dΩ*/dΩ_lab = (p_lab/p*)² (η² for the neutrino) weights them by (p_±/p*)² / η². Neutrinos
  below E*_nu cannot come forward from a collinear K -> mu nu; they keep the "momentum" rule.
  Within a few MeV of the endpoint (p* -> 0) the focusing diverges like 1/p*: there the
  kaons' own angular spread, ignored here, sets it.
  This shows the size of the approximation: the heavy N is focused forward. Relative to
  "momentum", the ND280 event rate (hence 1/limit) changes by x1.004 at 20 MeV, x1.10 at
  100 MeV, x1.42 at 200 MeV and x1.60 at 250 MeV; "energy" by x1.000, x1.000, x0.998 and
  x0.995. The position of the high-mass wall (set by the decay length, and p_+ ≈ E_nu within
  5%) does not move visibly. Real kaons have a spread of directions and ND280 sits 2.5 deg
  off axis, so "collinear" is an estimate of the error, not a better prediction.

Detector: the three TPC fiducial boxes of ``geometry/nd280.yaml`` (1.70 x 1.96 x 0.563 m at
z = -0.375, 0.99, 2.355 m), the HNL travelling along +z from the target, ``baseline_m``
(280 m, PHYSICS.md; the paper says 284.9 m) upstream of the ND280 origin. The flux is taken
uniform over each box face; the probability to decay inside a box entered after a path t and
crossed over Δ is exp(-t/L) (1 - exp(-Δ/L)) (:func:`t2khnl.decay.decay_probability`), with
L = βγ cτ from the "corrected" total width (:mod:`t2khnl.model`: Γ(nu γ) = d² m³/(4π) plus
Γ(nu e e)); the e+e- fraction is :func:`t2khnl.model.ee_fraction_of_decays`. AFH's code has
exactly these widths (checked: its Γ(nu e e) equals our exact ``br_ee`` to 1e-12).

Selection: the T2K 2019 e+e-nu efficiency as the analysis applies it
(:func:`t2khnl.select.efficiency`, smaller column, flat outside 150-475 MeV); optionally the
e+e- opening-angle cut by Monte Carlo (:func:`t2khnl.model.sample_pair`), which keeps >= 99.9%
of these boosted decays at 90 deg. The cos θ_N > 0.992 beam-angle cut passes by construction:
these HNLs fly along the beam. AFH applied an efficiency (the T2K data-release efficiency of
K -> mu N, N -> e e nu, summed over channels, POT-averaged FHC/RHC, extrapolated linearly
below 140 MeV; 0.076-0.12, 10-40% above ours) and no opening-angle or angular cut.

Exposures: ND280 2019 is 12.34e20 POT FHC (6.29e20 RHC has no kaon flux file here). For
T2K + T2K-II (2e22 POT total) only its FHC share, 2e22 x 12.34/18.63 = 1.325e22 POT, is used,
at zero background (events ∝ POT). AFH instead multiplied the FHC flux by the FHC + RHC POT
(18.63e20, "approximately the same flux") and drew "T2K full" as their ND280 curve divided by
√10.7 (HNL-DIF ``main_plots.ipynb``; ``exp.POT_RATIO_FULL_T2K = 10.7``, i.e. 2e22 POT with a
background-limited √POT scaling). The seed authors reproduced that with the same factors
(``z * (6.29+12.34)*1E20 * np.sqrt(10.7)`` in ``kaon/kaon2.ipynb``).

**The validation file ``validation/AFH_T2K.txt`` is AFH's "T2K full" curve, not their ND280
2019 limit** (PROVENANCE.md says otherwise): it is byte-identical to the seed authors'
``kaon/ConstraintFiles/AFH_T2K_FULL.txt``, labelled "T2K + T2KII (AFH 2019)" in their
``kaon/recreate.ipynb``, and it lies 0.55 dex (median; 0.52-0.59 below 230 MeV, 0.44-0.64 on
the wall) below the ND280 limit recomputed from AFH's own event table
(``limits_computed/T2K_mag_mom_Umu4.dat``, 2.3 events), i.e. log10 √10.7 = 0.515 plus
digitisation, while their ``AFH_T2K_2019.txt`` matches that limit to 0.02 dex (median; within
0.07 below 230 MeV).
:func:`read_afh` with ``exposure="nd280_2019"`` undoes the √10.7.

Mixing-induced decays: |U|² also opens weak decays (3 nu, nu e e, mu pi, nu pi0, ...). Their
width is below :func:`mixing_width_bound_gev` ≈ 5 |U|² x the dipole width for these masses,
i.e. < 6e-4 of it wherever |U|² < 1e-4 (all of AFH's curve and ours up to the wall): the
lifetime and the signal stay fixed by d and the limit is linear in |U|² as stated above. It
would matter only for |U|² ≳ 0.02, deep inside the wall.

Agreement with AFH (test_kaon.py, Suppl. Fig. 1): with AFH's own inputs (:mod:`t2khnl.afh`:
their efficiency, FHC kaon fluxes, exposure and decay volume) our limit equals AFH's own
(their event-rate table at 2.3 events) within 0.994-1.020 at their 69 masses, 20-270 MeV.
With the analysis's assumptions at AFH's exposure it is 1.49x theirs (median): AFH's
efficiency is 1.2-1.5x ours (their channels summed, against the smaller e+e- column here)
and they add the FHC nu_mu-bar kaon flux.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import yaml

from . import decay, model, select, t2k2019
from .errors import DataFileError, InputError
from .flux import RAW_TO_SI, verify

__all__ = [
    "AFH_FULL_OVER_ND280",
    "BASELINE_M",
    "D_GEV_INV",
    "EVENTS_90CL",
    "KINEMATIC_ENDPOINT_GEV",
    "MU_TR_GEV_INV",
    "M_KAON_GEV",
    "M_MUON_GEV",
    "POT_AFH_ND280",
    "POT_ND280_2019_FHC",
    "POT_ND280_2019_RHC",
    "POT_T2K_FULL",
    "POT_T2K_FULL_FHC",
    "AFHCurve",
    "Agreement",
    "HNLSpectrum",
    "KaonFlux",
    "Kinematics",
    "LimitCurve",
    "agreement",
    "default_masses_gev",
    "expected_events",
    "hnl_spectrum",
    "limit_curve",
    "load_kaon_flux",
    "mixing_width_bound_gev",
    "opening_angle_efficiency",
    "read_afh",
    "rho",
    "tpc_boxes",
    "tpc_decay_probability",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Kinematics = Literal["momentum", "energy", "collinear"]
_KINEMATICS = ("momentum", "energy", "collinear")

M_KAON_GEV: float = 0.493677
"""Charged-kaon mass [GeV] (PDG)."""
M_MUON_GEV: float = 0.1056583755
"""Muon mass [GeV] (PDG)."""
KINEMATIC_ENDPOINT_GEV: float = M_KAON_GEV - M_MUON_GEV
"""Heaviest HNL from K -> mu N [GeV]: 388.0 MeV."""
MU_TR_GEV_INV: float = 1.0e-6
"""Transition magnetic moment of the validation [GeV^-1] (AFH; DarkNews ``mu_tr_mu4``)."""
D_GEV_INV: float = float(model.d_from_mu_tr(MU_TR_GEV_INV))
"""The same as the dipole coupling d = mu_tr / 2 = 5e-7 GeV^-1."""
EVENTS_90CL: float = -math.log(0.1)
"""Signal events excluded at 90% CL with zero background and zero observed: 2.303."""
BASELINE_M: float = 280.0
"""Target to ND280 origin [m] (PHYSICS.md; AFH use 280 m, the paper quotes 284.9 m)."""
POT_ND280_2019_FHC: float = t2k2019.POT["fhc"]
"""ND280 2019 exposure in FHC (neutrino) mode [POT]."""
POT_ND280_2019_RHC: float = t2k2019.POT["rhc"]
"""ND280 2019 exposure in RHC (antineutrino) mode [POT]."""
POT_AFH_ND280: float = POT_ND280_2019_FHC + POT_ND280_2019_RHC
"""What AFH multiplied the FHC kaon flux by for their ND280 curve [POT]."""
POT_T2K_FULL: float = 2.0e22
"""T2K + T2K-II total exposure [POT]."""
POT_T2K_FULL_FHC: float = POT_T2K_FULL * POT_ND280_2019_FHC / POT_AFH_ND280
"""FHC share of :data:`POT_T2K_FULL` at the 2019 FHC:RHC split [POT]: 1.325e22."""
AFH_FULL_OVER_ND280: float = math.sqrt(10.7)
"""AFH's "T2K full" |U|² curve is their ND280 curve divided by this (√POT scaling of 10.7)."""

KAON_FLUX_FILE = "flux/kaon-flux-data.dat"
"""Manifest path of the kaon-parent nu_mu flux (E [GeV], log10 flux /cm²/50 MeV/1e21 POT)."""
AFH_FILE = "validation/AFH_T2K.txt"
"""Manifest path of AFH's curve (log10 m_N/MeV, log10 |U_muN|²)."""

_G_FERMI_GEV2 = 1.1663788e-5
_F_PION_GEV = 0.1302
_N_WEAK_LEPTONIC = 4.0  # 3 nu, nu e e, nu e mu, nu mu mu: each <= G_F² m⁵ |U|²/(192 π³)


# --------------------------------------------------------------------------------------
# Production
# --------------------------------------------------------------------------------------
def rho(mass_gev: npt.ArrayLike, u2: float = 1.0) -> FloatArray:
    """HNL flux over the nu_mu flux from K -> mu nu: Γ(K -> mu N) / Γ(K -> mu nu).

    ρ = |U|² (a + b - (a - b)²) λ^{1/2}(1, a, b) / (a (1 - a)²) with the squared mass
    ratios a = (m_mu/m_K)², b = (m_N/m_K)² (see the module docstring). ρ -> |U|² as
    m_N -> 0; ρ = 0 at and above m_N = m_K - m_mu.

    Args:
        mass_gev: HNL mass m_N [GeV], >= 0.
        u2: |U_muN|² (dimensionless).

    Returns:
        ρ (dimensionless), shape of ``mass_gev``.

    Raises:
        InputError: a negative or non-finite mass.
    """
    m = np.asarray(mass_gev, dtype=float)
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        msg = f"HNL masses must be finite and >= 0 GeV, got {mass_gev!r}"
        raise InputError(msg)
    a = (M_MUON_GEV / M_KAON_GEV) ** 2
    b = (m / M_KAON_GEV) ** 2
    kallen = 1 + a**2 + b**2 - 2 * a - 2 * b - 2 * a * b
    value = (a + b - (a - b) ** 2) * np.sqrt(np.clip(kallen, 0.0, None)) / (a * (1 - a) ** 2)
    return np.asarray(u2 * np.where(m < KINEMATIC_ENDPOINT_GEV, value, 0.0))


class KaonFlux(NamedTuple):
    """The nu_mu flux from kaon decays at ND280 (FHC), at the file's nodes.

    Attributes:
        energy_gev: node energies [GeV], increasing.
        flux: dΦ/dE at the nodes [nu / m² / GeV / POT].
        source: the file read.
    """

    energy_gev: FloatArray
    flux: FloatArray
    source: Path

    def density(self, energy_gev: npt.ArrayLike) -> FloatArray:
        """dΦ/dE [nu / m² / GeV / POT], linear between the nodes, zero outside them.

        Args:
            energy_gev: neutrino energies [GeV].

        Returns:
            The flux density, shape of ``energy_gev``.
        """
        e = np.asarray(energy_gev, dtype=float)
        return np.interp(e, self.energy_gev, self.flux, left=0.0, right=0.0)


def load_kaon_flux(data_dir: str | os.PathLike[str] | None = None) -> KaonFlux:
    """Read ``flux/kaon-flux-data.dat`` (sha256-checked against ``flux/manifest.yaml``).

    The file holds E [GeV] and log10 of the flux per cm² per 50 MeV per 1e21 POT at 35
    irregular nodes, 0.05-9.5 GeV; the density is 10**column2 x 2e-16
    (:data:`t2khnl.flux.RAW_TO_SI`) in nu / m² / GeV / POT, as SIREN's T2K_Kaons loader has it.

    Args:
        data_dir: the data folder (see :func:`t2khnl.flux.verify`).

    Returns:
        The flux.

    Raises:
        DataFileError: the file is missing, modified or not two increasing finite columns.
    """
    path = verify(KAON_FLUX_FILE, data_dir)
    table = _two_columns(path, "E[GeV] log10(flux)")
    if np.any(np.diff(table[:, 0]) <= 0):
        msg = f"kaon flux {path}: energies are not strictly increasing"
        raise DataFileError(msg)
    return KaonFlux(table[:, 0].copy(), 10.0 ** table[:, 1] * RAW_TO_SI, path)


def _two_columns(path: Path, columns: str) -> FloatArray:
    """A whitespace table of at least two rows of two finite columns.

    Raises:
        DataFileError: unparsable, or not at least two rows of two finite ``columns``.
    """
    try:
        table = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        msg = f"cannot parse {path}: {exc}"
        raise DataFileError(msg) from exc
    if table.shape[1] != 2 or table.shape[0] < 2 or not np.all(np.isfinite(table)):
        msg = f"{path} must be at least two rows of two finite columns '{columns}'"
        raise DataFileError(msg)
    return table


class HNLSpectrum(NamedTuple):
    """HNLs reaching ND280 per |U|², as quadrature points.

    Attributes:
        momentum_gev: HNL lab momenta [GeV] (> 0).
        flux_per_u2: HNL flux carried by each point per unit |U_muN|² [N / m² / POT]
            (quadrature weight included: the sum is the total HNL flux / |U|²).
    """

    momentum_gev: FloatArray
    flux_per_u2: FloatArray


def hnl_spectrum(
    mass_gev: float,
    flux: KaonFlux,
    *,
    kinematics: Kinematics = "momentum",
    n_points: int = 4000,
) -> HNLSpectrum:
    """The HNL flux at ND280 from the kaon nu_mu flux, per |U_muN|².

    The neutrino energies are a uniform trapezoid grid over the flux file's nodes; each
    point's flux content ρ(m_N)/|U|² x dΦ/dE x ΔE goes to the HNL momentum given by
    ``kinematics`` (module docstring).

    Args:
        mass_gev: HNL mass m_N [GeV], > 0.
        flux: the kaon nu_mu flux (:func:`load_kaon_flux`).
        kinematics: ``"momentum"`` (p_N = E_nu, AFH), ``"energy"`` (E_N = E_nu) or
            ``"collinear"`` (two-body kinematics of kaons along the beam).
        n_points: number of neutrino-energy points (>= 2).

    Returns:
        The spectrum (empty at and above the kinematic endpoint).

    Raises:
        InputError: an unknown ``kinematics``, a non-positive mass or ``n_points < 2``.
    """
    if kinematics not in _KINEMATICS:
        msg = f"kinematics must be one of {', '.join(_KINEMATICS)}; got {kinematics!r}"
        raise InputError(msg)
    if not (math.isfinite(mass_gev) and mass_gev > 0) or n_points < 2:
        msg = f"need a finite mass > 0 GeV and n_points >= 2; got {mass_gev!r}, {n_points!r}"
        raise InputError(msg)
    ratio = float(rho(mass_gev))
    if ratio == 0.0:
        return HNLSpectrum(np.empty(0), np.empty(0))
    e_nu = np.linspace(flux.energy_gev[0], flux.energy_gev[-1], n_points)
    step = np.full(n_points, e_nu[1] - e_nu[0])
    step[[0, -1]] *= 0.5
    content = ratio * flux.density(e_nu) * step

    if kinematics == "momentum":
        return HNLSpectrum(e_nu, content)
    if kinematics == "energy":
        above = e_nu > mass_gev
        return HNLSpectrum(np.sqrt(e_nu[above] ** 2 - mass_gev**2), content[above])

    # collinear: a K -> mu nu with E_nu = η E*_nu at 0 deg fixes the kaon boost η = γ(1+β)
    m_k2, m_mu2, m_n2 = M_KAON_GEV**2, M_MUON_GEV**2, mass_gev**2
    e_star_nu = (m_k2 - m_mu2) / (2 * M_KAON_GEV)
    e_star = (m_k2 - m_mu2 + m_n2) / (2 * M_KAON_GEV)
    p_star = math.sqrt(max(e_star**2 - m_n2, 0.0))
    boosted = e_nu >= e_star_nu
    eta = e_nu[boosted] / e_star_nu
    gamma, gamma_beta = 0.5 * (eta + 1 / eta), 0.5 * (eta - 1 / eta)
    p_fwd = gamma * p_star + gamma_beta * e_star
    p_bwd = gamma_beta * e_star - gamma * p_star
    back = p_bwd > 0
    moment = np.concatenate([e_nu[~boosted], p_fwd, p_bwd[back]])
    weight = np.concatenate(
        [
            content[~boosted],
            content[boosted] * (p_fwd / p_star / eta) ** 2,
            content[boosted][back] * (p_bwd[back] / p_star / eta[back]) ** 2,
        ]
    )
    return HNLSpectrum(moment, weight)


# --------------------------------------------------------------------------------------
# Detector
# --------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def tpc_boxes() -> decay.Boxes:
    """The three ND280 TPC fiducial boxes of ``geometry/nd280.yaml`` [m], beam along +z.

    Returns:
        The boxes (names TPC1-3; read-only centres and full widths in SIREN ND280
        coordinates), parsed once.
    """
    text = resources.files("t2khnl.geometry").joinpath("nd280.yaml").read_text("utf-8")
    entries = yaml.safe_load(text)["fiducial"]
    centre = np.array([e["centre"] for e in entries], dtype=float)
    width = np.array([e["widths"] for e in entries], dtype=float)
    centre.setflags(write=False)
    width.setflags(write=False)
    return decay.Boxes(tuple(str(e["name"]) for e in entries), centre, width)


def tpc_decay_probability(
    mass_gev: float,
    momentum_gev: npt.ArrayLike,
    *,
    d_gev_inv: float = D_GEV_INV,
    baseline_m: float = BASELINE_M,
    boxes: decay.Boxes | None = None,
) -> FloatArray:
    """Probability that an HNL from the target decays inside each TPC fiducial box.

    The HNL flies along the beam axis from z = -``baseline_m``; for a box entered after
    t_in and left after t_out, P = exp(-t_in/L) (1 - exp(-(t_out - t_in)/L))
    (:func:`t2khnl.decay.decay_probability`), L = βγ cτ with the "corrected" total width.

    Args:
        mass_gev: HNL mass m_N [GeV].
        momentum_gev: HNL lab momenta [GeV] (> 0), shape (n,).
        d_gev_inv: dipole coupling d [GeV^-1] (default mu_tr = 1e-6 GeV^-1).
        baseline_m: target to ND280 origin [m].
        boxes: the decay volumes in ND280 coordinates (default :func:`tpc_boxes`).

    Returns:
        (n, number of boxes) probabilities (dimensionless).
    """
    boxes = tpc_boxes() if boxes is None else boxes
    cross = decay.crossings(np.array([[0.0, 0.0, -baseline_m]]), np.array([[0.0, 0.0, 1.0]]), boxes)
    length = np.asarray(model.decay_length_m(mass_gev, d_gev_inv, momentum_gev), dtype=float)
    return decay.decay_probability(cross.t_in_m, cross.t_out_m, length.reshape(-1, 1))


def opening_angle_efficiency(
    mass_gev: float,
    momentum_gev: npt.ArrayLike,
    max_deg: float,
    *,
    n_mc: int = 4000,
    seed: int = 1,
) -> FloatArray:
    """Fraction of N -> nu e+ e- decays with an e+e- opening angle below ``max_deg``.

    Monte Carlo with :func:`t2khnl.model.sample_pair` (unpolarised N) at 24 momenta spaced
    logarithmically over the requested range, interpolated linearly in log p.

    Args:
        mass_gev: HNL mass m_N [GeV] (> 2 m_e).
        momentum_gev: HNL lab momenta [GeV] (> 0).
        max_deg: the opening-angle cut [degrees].
        n_mc: decays simulated per momentum node.
        seed: seed of the random generator.

    Returns:
        The efficiency at each momentum (dimensionless, 0-1).
    """
    p = np.asarray(momentum_gev, dtype=float)
    if p.size == 0:
        return np.empty(0)
    nodes = np.geomspace(p.min(), max(p.max(), p.min() * 1.001), 24)
    p_each = np.repeat(nodes, n_mc)
    p4 = np.zeros((p_each.size, 4))
    p4[:, 0] = np.sqrt(p_each**2 + mass_gev**2)
    p4[:, 3] = p_each
    e_plus, e_minus, _ = model.sample_pair(np.random.default_rng(seed), p4, mass_gev)
    dot = np.sum(e_plus[:, 1:] * e_minus[:, 1:], axis=1)
    norm = np.linalg.norm(e_plus[:, 1:], axis=1) * np.linalg.norm(e_minus[:, 1:], axis=1)
    passed = (dot > np.cos(np.radians(max_deg)) * norm).reshape(nodes.size, n_mc)
    return np.interp(np.log(p), np.log(nodes), passed.mean(axis=1))


# --------------------------------------------------------------------------------------
# Events and limits
# --------------------------------------------------------------------------------------
def expected_events(
    mass_gev: float,
    *,
    u2: float = 1.0,
    pot: float = POT_ND280_2019_FHC,
    kinematics: Kinematics = "momentum",
    opening_angle_max_deg: float | None = None,
    d_gev_inv: float = D_GEV_INV,
    baseline_m: float = BASELINE_M,
    flux: KaonFlux | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    seed: int = 1,
    efficiency: Callable[[float], float] | None = None,
    boxes: decay.Boxes | None = None,
) -> float:
    """Selected N -> nu e+ e- decays in the ND280 TPCs from kaon-decay HNLs.

    N = |U|² x POT x Σ_boxes area x Σ_p (flux per |U|²) x P_decay x Γ(nu e e)/Γ x ε(m_N)
    [x ε_opening-angle(p)]; exactly linear in |U|² (module docstring).

    Args:
        mass_gev: HNL mass m_N [GeV] (> 2 m_e); 0 events at and above 388 MeV.
        u2: |U_muN|².
        pot: exposure [POT] on the FHC kaon flux (default ND280 2019 FHC, 12.34e20).
        kinematics: HNL momentum from the nu energy (see :func:`hnl_spectrum`).
        opening_angle_max_deg: e+e- opening-angle cut [deg], or ``None`` for none (AFH).
        d_gev_inv: dipole coupling d [GeV^-1] (default mu_tr/2 = 5e-7).
        baseline_m: target to ND280 origin [m].
        flux: the kaon flux; read from ``data_dir`` when ``None``.
        data_dir: the data folder (flux and efficiency table).
        seed: seed of the opening-angle Monte Carlo.
        efficiency: selection efficiency as a function of m_N [GeV] (default: the
            analysis's, :func:`t2khnl.select.efficiency`).
        boxes: decay volumes (default :func:`tpc_boxes`).

    Returns:
        The expected number of selected events.

    Raises:
        InputError: a mass at or below the e+e- threshold, or a negative u2 or pot.
    """
    if not (math.isfinite(mass_gev) and mass_gev > 2 * model.M_ELECTRON_GEV):
        msg = f"mass_gev must be above the e+e- threshold, got {mass_gev!r}"
        raise InputError(msg)
    if u2 < 0 or pot < 0:
        msg = f"u2 and pot must be >= 0, got {u2!r} and {pot!r}"
        raise InputError(msg)
    if flux is None:
        flux = load_kaon_flux(data_dir)
    spectrum = hnl_spectrum(mass_gev, flux, kinematics=kinematics)
    keep = spectrum.momentum_gev > 0
    p, content = spectrum.momentum_gev[keep], spectrum.flux_per_u2[keep]
    if p.size == 0:
        return 0.0
    boxes = tpc_boxes() if boxes is None else boxes
    area_m2 = boxes.width_m[:, 0] * boxes.width_m[:, 1]
    prob = tpc_decay_probability(mass_gev, p, d_gev_inv=d_gev_inv, baseline_m=baseline_m,
                                 boxes=boxes)
    per_point = content * (prob @ area_m2)
    if opening_angle_max_deg is not None:
        per_point = per_point * opening_angle_efficiency(
            mass_gev, p, opening_angle_max_deg, seed=seed
        )
    eff = (select.efficiency(mass_gev, data_dir) if efficiency is None
           else efficiency(mass_gev))
    signal = float(model.ee_fraction_of_decays(mass_gev)) * eff
    return u2 * pot * signal * float(np.sum(per_point))


class LimitCurve(NamedTuple):
    """A 90% CL upper limit on |U_muN|² versus m_N.

    Attributes:
        mass_gev: HNL masses [GeV].
        u2: the limit :data:`EVENTS_90CL` / events_per_u2 (inf where no events are expected).
        events_per_u2: expected selected events at |U|² = 1.
        pot: the exposure they are computed for [POT].
    """

    mass_gev: FloatArray
    u2: FloatArray
    events_per_u2: FloatArray
    pot: float

    def rescaled(self, pot: float) -> LimitCurve:
        """The same curve for another exposure (zero background: events ∝ POT).

        Args:
            pot: the new exposure [POT], > 0.

        Returns:
            The rescaled curve.

        Raises:
            InputError: a non-positive exposure.
        """
        if not (pot > 0 and self.pot > 0):
            msg = f"exposures must be > 0 POT, got {pot!r} (curve at {self.pot!r})"
            raise InputError(msg)
        return _limit(self.mass_gev, self.events_per_u2 * (pot / self.pot), pot)


def _limit(mass_gev: FloatArray, events: FloatArray, pot: float) -> LimitCurve:
    u2 = np.full(events.shape, np.inf)
    np.divide(EVENTS_90CL, events, out=u2, where=events > 0)
    return LimitCurve(mass_gev, u2, events, pot)


def default_masses_gev(n: int = 150) -> FloatArray:
    """Log-spaced HNL masses from 10 MeV to just below the 388.0 MeV endpoint [GeV].

    Args:
        n: number of masses.

    Returns:
        The masses [GeV].
    """
    return np.geomspace(0.010, KINEMATIC_ENDPOINT_GEV, n + 1)[:-1]


def limit_curve(
    masses_gev: npt.ArrayLike | None = None,
    *,
    pot: float = POT_ND280_2019_FHC,
    kinematics: Kinematics = "momentum",
    opening_angle_max_deg: float | None = None,
    d_gev_inv: float = D_GEV_INV,
    baseline_m: float = BASELINE_M,
    data_dir: str | os.PathLike[str] | None = None,
    flux: KaonFlux | None = None,
    efficiency: Callable[[float], float] | None = None,
    boxes: decay.Boxes | None = None,
) -> LimitCurve:
    """The 90% CL, zero-background limit |U_muN|² = 2.303 / N(m_N, |U|² = 1).

    Args:
        masses_gev: HNL masses [GeV]; default :func:`default_masses_gev`.
        pot: exposure [POT] (ND280 2019 FHC by default; :data:`POT_T2K_FULL_FHC` for
            T2K + T2K-II, :data:`POT_AFH_ND280` for AFH's convention).
        kinematics: see :func:`hnl_spectrum`.
        opening_angle_max_deg: e+e- opening-angle cut [deg] or ``None``.
        d_gev_inv: dipole coupling d [GeV^-1].
        baseline_m: target to ND280 origin [m].
        data_dir: the data folder.
        flux: the kaon flux (default :func:`load_kaon_flux`).
        efficiency: efficiency versus m_N [GeV] (default: the analysis's).
        boxes: decay volumes (default :func:`tpc_boxes`).

    Returns:
        The limit curve.
    """
    masses = default_masses_gev() if masses_gev is None else np.asarray(masses_gev, dtype=float)
    flux = load_kaon_flux(data_dir) if flux is None else flux
    events = np.array(
        [
            expected_events(
                float(m),
                pot=pot,
                kinematics=kinematics,
                opening_angle_max_deg=opening_angle_max_deg,
                d_gev_inv=d_gev_inv,
                baseline_m=baseline_m,
                flux=flux,
                data_dir=data_dir,
                efficiency=efficiency,
                boxes=boxes,
            )
            for m in masses
        ]
    )
    curve = _limit(masses, events, pot)
    logger.info(
        "kaon-HNL 90%% CL limit at %.4g POT (%s kinematics): min |U|^2 = %.3g at %.1f MeV",
        pot,
        kinematics,
        float(np.min(curve.u2)) if masses.size else math.inf,
        float(masses[np.argmin(curve.u2)] * 1e3) if masses.size else math.nan,
    )
    return curve


def mixing_width_bound_gev(mass_gev: npt.ArrayLike, u2: npt.ArrayLike) -> FloatArray:
    """A generous upper bound on the N width from |U_muN|² mixing [GeV].

    |U|² G_F² m³ [4 m²/(192 π³) + 2 f_π²/(16 π)]: four leptonic channels (3 nu, nu e e,
    nu e mu, nu mu mu), each at most the 3 nu width G_F² m⁵ |U|²/(192 π³), and N -> mu pi,
    nu pi0, each at most G_F² f_π² |U|² m³/(16 π) (massless final states, |V_ud| -> 1),
    whether open or not.

    Args:
        mass_gev: HNL mass m_N [GeV].
        u2: |U_muN|².

    Returns:
        The bound [GeV].
    """
    m = np.asarray(mass_gev, dtype=float)
    leptonic = _N_WEAK_LEPTONIC * m**2 / (192 * math.pi**3)
    hadronic = 2 * _F_PION_GEV**2 / (16 * math.pi)
    return np.asarray(np.asarray(u2, dtype=float) * _G_FERMI_GEV2**2 * m**3 * (leptonic + hadronic))


# --------------------------------------------------------------------------------------
# AFH and the agreement metric
# --------------------------------------------------------------------------------------
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

    The file is AFH's "T2K full" curve (module docstring). ``exposure="nd280_2019"``
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
