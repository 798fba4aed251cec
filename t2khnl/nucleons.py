"""Incoherent upscattering on the nucleons bound in a nucleus: which channel each upscatter
came from, its nucleon-level kinematics, and Pauli blocking.

SIREN injects every upscatter with its nucleus's total cross section (coherent + Z x free
proton + (A - Z) x free neutron) and coherent kinematics. :func:`reassign` then draws each
event's channel with probability sigma_c(E) / sigma_total(E); gives p-el and n-el events
Q^2 [GeV^2] from the free nucleon's dsigma/dQ^2 and the kinematics of a nucleon at rest;
and, with ``pauli_blocking``, multiplies their weight on a nucleus (A > 1) by the Fermi-gas
Pauli factor 3x/2 - x^3/2, x = |q| / (2 k_F) (1 above 2 k_F; k_F [GeV] of Moniz et al.,
interpolated in A). Weights stay per POT.

Details: docs/incoherent.md ("How an event gets its process").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from . import xsec
from .errors import ComputationError

__all__ = [
    "CHANNEL_CODES",
    "Reassigned",
    "fermi_momentum_gev",
    "momentum_transfer_gev",
    "nucleon_kinematics",
    "pauli_factor",
    "q2_of_coherent",
    "reassign",
    "sample_q2",
]

FloatArray = npt.NDArray[np.float64]
TableMap = Mapping[tuple[int, str], xsec.CrossSectionTable]

#: Integer code of each channel in the event record (``channel`` branch).
CHANNEL_CODES = {"coherent": 0, "p-el": 1, "n-el": 2}

#: Fermi momenta [GeV] from quasi-elastic electron scattering, Moniz et al., PRL 26, 445
#: (1971), Table I: 6Li, 12C, 24Mg, 40Ca, Ni, 89Y, Sn, 181Ta, 208Pb (mass numbers as
#: listed there; natural Ni and Sn at their mean A).
_MONIZ_A = np.array([6.0, 12.0, 24.0, 40.0, 58.7, 89.0, 118.7, 181.0, 208.0])
_MONIZ_KF_GEV = np.array([0.169, 0.221, 0.235, 0.251, 0.260, 0.254, 0.260, 0.265, 0.265])


def fermi_momentum_gev(mass_number: npt.ArrayLike) -> FloatArray:
    """Fermi momentum k_F [GeV] of a nucleus of mass number A: Moniz et al.'s values,
    linear in A between their nuclei, held at the end values outside (A < 6: 0.169 GeV).

    Args:
        mass_number: A (> 1).

    Returns:
        k_F [GeV], shape of ``mass_number``.
    """
    return np.interp(np.asarray(mass_number, dtype=float), _MONIZ_A, _MONIZ_KF_GEV)


def pauli_factor(q_gev: npt.ArrayLike, kf_gev: npt.ArrayLike) -> FloatArray:
    """Fraction of a Fermi gas's nucleons that a momentum transfer |q| lifts out of the
    Fermi sphere: 1 - V(overlap of two spheres k_F apart by |q|) / V(sphere)
    = 3x/2 - x^3/2 with x = |q| / (2 k_F), and 1 for |q| >= 2 k_F.

    Args:
        q_gev: three-momentum transfer |q| [GeV] (>= 0).
        kf_gev: Fermi momentum [GeV] (> 0).

    Returns:
        The factor in [0, 1], broadcast over the inputs.
    """
    x = np.asarray(q_gev, dtype=float) / (2 * np.asarray(kf_gev, dtype=float))
    return np.where(x < 1, 1.5 * x - 0.5 * x**3, 1.0)


def momentum_transfer_gev(q2_gev2: npt.ArrayLike, nucleon_mass_gev: float) -> FloatArray:
    """|q| [GeV] transferred to a nucleon at rest in elastic scattering at Q^2 [GeV^2]:
    energy transfer Q^2 / (2M), so |q|^2 = Q^2 + (Q^2 / 2M)^2."""
    q2 = np.asarray(q2_gev2, dtype=float)
    return np.sqrt(q2 + (q2 / (2 * nucleon_mass_gev)) ** 2)


def q2_of_coherent(energy_gev: FloatArray, hnl_p4_gev: FloatArray,
                   mass_gev: float) -> FloatArray:
    """Q^2 = -(k - k')^2 [GeV^2] of upscatters nu(E along +z) -> N(p4): 2E(E_N - p_z) - m^2."""
    return 2 * energy_gev * (hnl_p4_gev[:, 0] - hnl_p4_gev[:, 3]) - mass_gev**2


def nucleon_kinematics(energy_gev: FloatArray, q2_gev2: FloatArray, mass_gev: float,
                       nucleon_mass_gev: float, phi: FloatArray,
                       ) -> tuple[FloatArray, FloatArray]:
    """Four-momenta of nu N_rest -> HNL N' for a neutrino along +z, elastic on a nucleon at rest.

    E_HNL = E - Q^2 / (2M); cos theta = (2 E E_HNL - m^2 - Q^2) / (2 E |p_HNL|) from
    t = m^2 - 2 k.k' = -Q^2.

    Args:
        energy_gev: neutrino energies E [GeV], shape (n,).
        q2_gev2: Q^2 [GeV^2] (within the physical range at E), shape (n,).
        mass_gev: HNL mass m [GeV].
        nucleon_mass_gev: nucleon mass M [GeV].
        phi: HNL azimuths [rad], shape (n,).

    Returns:
        (HNL four-momenta, recoil four-momenta) [GeV], each (E, px, py, pz), shape (n, 4).
    """
    e_n = energy_gev - q2_gev2 / (2 * nucleon_mass_gev)
    p_n = np.sqrt(np.maximum(e_n**2 - mass_gev**2, 0.0))
    cos = np.clip((2 * energy_gev * e_n - mass_gev**2 - q2_gev2)
                  / np.maximum(2 * energy_gev * p_n, 1e-300), -1.0, 1.0)
    sin = np.sqrt(1 - cos**2)
    hnl = np.stack([e_n, p_n * sin * np.cos(phi), p_n * sin * np.sin(phi), p_n * cos], axis=1)
    recoil = np.stack([energy_gev + nucleon_mass_gev - e_n, -hnl[:, 1], -hnl[:, 2],
                       energy_gev - hnl[:, 3]], axis=1)
    return hnl, recoil


def sample_q2(rng: np.random.Generator, table: xsec.CrossSectionTable,
              energy_gev: FloatArray) -> FloatArray:
    """Draw Q^2 [GeV^2] from a table's dsigma/dy at each neutrino energy.

    The energy is a mixture of its two neighbouring nodes of the differential table
    (weights linear in ln E); at the node, ln z is drawn from the piecewise-linear
    cumulative of z dsigma/dy (helicities summed) over the table's z grid, then
    y = y_min + z (y_max - y_min) at the event's energy (SIREN's mapping,
    :func:`t2khnl.xsec.siren_y_bounds`) and Q^2 = 2 M E y.

    Args:
        rng: random generator.
        table: the free-nucleon table (one channel, one mass).
        energy_gev: neutrino energies [GeV] above the table's threshold, shape (n,).

    Returns:
        Q^2 [GeV^2], shape (n,).
    """
    nodes = table.diff_energies_gev
    density = table.dsigma_dy_cm2.sum(axis=0) * table.z[None, :]  # d sigma / d ln z
    log_z = np.log(table.z)
    cumulative = np.concatenate(
        [np.zeros((nodes.size, 1)),
         np.cumsum(0.5 * (density[:, 1:] + density[:, :-1]) * np.diff(log_z), axis=1)], axis=1)
    filled = cumulative[:, -1] > 0
    e = np.asarray(energy_gev, dtype=float)
    low = np.clip(np.searchsorted(nodes, e) - 1, 0, nodes.size - 2)
    frac = np.clip(np.log(e / nodes[low]) / np.log(nodes[low + 1] / nodes[low]), 0.0, 1.0)
    row = np.where((rng.random(e.size) < frac) | ~filled[low], low + 1, low)
    log_z_drawn = np.empty(e.size)
    uniform = rng.random(e.size)
    for r in np.unique(row):
        mine = row == r
        log_z_drawn[mine] = np.interp(uniform[mine] * cumulative[r, -1], cumulative[r], log_z)
    ymin, ymax = xsec.siren_y_bounds(e, table.mass_gev, table.scatterer_mass_gev)
    y = ymin + np.exp(log_z_drawn) * (ymax - ymin)
    return 2 * table.scatterer_mass_gev * e * y


class Reassigned(NamedTuple):
    """Upscatters with their channel and, for incoherent ones, nucleon-level kinematics.

    Attributes:
        channel: :data:`CHANNEL_CODES` value per event, int32.
        hnl_p4_gev: HNL four-momenta [GeV], shape (n, 4) (SIREN's for coherent events).
        recoil_p4_gev: recoil (nucleus or nucleon) four-momenta [GeV], shape (n, 4).
        q2_gev2: Q^2 [GeV^2] per event.
        weight_factor: Pauli factor per event (1 for coherent events, free nucleons and
            without ``pauli_blocking``).
    """

    channel: npt.NDArray[np.int32]
    hnl_p4_gev: FloatArray
    recoil_p4_gev: FloatArray
    q2_gev2: FloatArray
    weight_factor: FloatArray


def reassign(rng: np.random.Generator, energy_gev: FloatArray, target_pdg: npt.ArrayLike,
             hnl_p4_gev: FloatArray, recoil_p4_gev: FloatArray, tables: TableMap,
             mass_gev: float, *, pauli_blocking: bool) -> Reassigned:
    """Draw each upscatter's channel and give the incoherent ones their own kinematics.

    Args:
        rng: random generator.
        energy_gev: neutrino energies [GeV], shape (n,).
        target_pdg: target nucleus PDG codes, shape (n,).
        hnl_p4_gev: SIREN's HNL four-momenta (coherent kinematics) [GeV], shape (n, 4).
        recoil_p4_gev: SIREN's recoil four-momenta [GeV], shape (n, 4).
        tables: the tables SIREN's cross sections were built from (one mass; every target of
            the events, and the free-nucleon tables of the incoherent channels present).
        mass_gev: HNL mass [GeV].
        pauli_blocking: weight incoherent events on nuclei (A > 1) by :func:`pauli_factor`.

    Returns:
        The events' channel, kinematics, Q^2 and weight factor.

    Raises:
        ComputationError: an event's target has no table.
    """
    e = np.asarray(energy_gev, dtype=float)
    targets = np.asarray(target_pdg, dtype=np.int64)
    channel = np.zeros(e.size, dtype=np.int32)
    uniform = rng.random(e.size)
    for pdg in np.unique(targets):
        mine = np.flatnonzero(targets == pdg)
        own = [(CHANNEL_CODES[c], tables[(int(pdg), c)]) for c in xsec.CHANNELS
               if (int(pdg), c) in tables]
        if not own:
            msg = f"no cross-section table for target {int(pdg)}"
            raise ComputationError(msg)
        sigma = np.cumsum([table.total(e[mine]) for _, table in own], axis=0)
        picked = np.sum(uniform[mine] * sigma[-1] >= sigma[:-1], axis=0)
        channel[mine] = np.array([code for code, _ in own], dtype=np.int32)[picked]
    hnl, recoil = hnl_p4_gev.copy(), recoil_p4_gev.copy()
    q2 = q2_of_coherent(e, hnl_p4_gev, mass_gev)
    factor = np.ones(e.size)
    for name, free_pdg in xsec.FREE_NUCLEON_PDG.items():
        mine = np.flatnonzero(channel == CHANNEL_CODES[name])
        if mine.size == 0:
            continue
        free = tables[(free_pdg, name)]
        q2[mine] = sample_q2(rng, free, e[mine])
        hnl[mine], recoil[mine] = nucleon_kinematics(
            e[mine], q2[mine], mass_gev, free.scatterer_mass_gev,
            rng.uniform(0.0, 2 * math.pi, mine.size))
        if pauli_blocking:
            mass_number = (targets[mine] // 10) % 1000
            bound = mass_number > 1
            factor[mine] = np.where(
                bound,
                pauli_factor(momentum_transfer_gev(q2[mine], free.scatterer_mass_gev),
                             fermi_momentum_gev(np.maximum(mass_number, 2))), 1.0)
    return Reassigned(channel, hnl, recoil, q2, factor)
