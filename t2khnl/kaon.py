"""HNLs from kaon decays at ND280: the validation of arXiv:2412.15051 (Suppl. Fig. 1) against AFH.

N made in K+ -> mu+ N (∝ |U_muN|², :func:`rho`, squared mass ratios) flies ~280 m to ND280 and
decays there through its dipole (mu_tr = 1e-6 GeV^-1, d = 5e-7 GeV^-1) into nu e+ e- inside
the three TPC fiducial boxes; at zero background the 90% CL limit is
``|U|²_lim(m) = 2.303 / N(m, |U|² = 1)`` (:func:`limit_curve`). The kinematics options,
exposures, the nature of ``validation/AFH_T2K.txt`` (AFH's "T2K full" curve, not their
ND280 2019 limit) and the measured agreement with AFH are in docs/kaon.md; AFH's curve and
the agreement metric are :mod:`t2khnl.kaon_reference`.
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
    "HNLSpectrum",
    "KaonFlux",
    "Kinematics",
    "LimitCurve",
    "default_masses_gev",
    "expected_events",
    "hnl_spectrum",
    "limit_curve",
    "load_kaon_flux",
    "mixing_width_bound_gev",
    "opening_angle_efficiency",
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
    ratios a = (m_mu/m_K)², b = (m_N/m_K)² (docs/kaon.md). ρ -> |U|² as
    m_N -> 0; ρ = 0 at and above m_N = m_K - m_mu.

    Args:
        mass_gev: HNL mass m_N [GeV], >= 0.
        u2: |U_muN|² (dimensionless).

    Returns:
        ρ (dimensionless), shape of ``mass_gev``.

    Raises:
        InputError: a negative or non-finite mass.

    Examples:
        >>> round(float(rho(1e-6, u2=1e-4)), 12)  # massless limit: |U|²
        0.0001
        >>> float(rho(KINEMATIC_ENDPOINT_GEV))
        0.0
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
    ``kinematics`` (docs/kaon.md).

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
    [x ε_opening-angle(p)]; exactly linear in |U|² (docs/kaon.md).

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
