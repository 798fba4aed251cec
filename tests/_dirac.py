"""Explicit 4x4 Dirac algebra for the dipole-portal Lagrangian, independent of DarkNews.

L = d nu-bar P_R sigma_{mu nu} F^{mu nu} N + h.c. (Dirac N, chiral nu_L): the Feynman vertex
of nu(k) -> N(k') absorbing a photon of momentum q = k - k' is Gamma^nu = 2 d sigma^{mu nu} q_mu
(times P_L on the neutrino), from F^{mu nu} -> -i (q^mu eps^nu - q^nu eps^mu). Everything here
is built from numpy matrices (Dirac representation, metric (+,-,-,-)): spin sums are numerical
traces of products of those matrices, nothing is taken from a formula of another code.

* :func:`width_nu_gamma` -- Gamma(N -> nu gamma) [GeV] from the two photon polarisations;
* :func:`dsigma_dq2_cm2` -- dsigma/dQ^2 [cm^2/GeV^2] of nu T -> N T (or the antineutrino),
  T a spin-1/2 target with the current e Z ubar [F1 gamma^a + i F2 sigma^{ab} q_b / (2M)] u
  (a nucleon, or a "Dirac-F1" nucleus) or a spin-0 nucleus with e Z (P + P')^a F1; the
  outgoing N summed over spins or in one helicity state of the centre-of-mass frame.
"""

from __future__ import annotations

import math

import numpy as np

#: (+,-,-,-)
METRIC = np.array([1.0, -1.0, -1.0, -1.0])
#: Fine-structure constant (CODATA 2018) and (hbar c)^2 [GeV^2 cm^2] (CODATA 2018).
ALPHA = 1.0 / 137.035999084
HBARC2_GEV2_CM2 = (1.973269804e-14) ** 2


def _matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """gamma^mu (shape (4, 4, 4)), gamma5 and sigma^{mu nu} = i/2 [gamma^mu, gamma^nu]."""
    i2, z2 = np.eye(2), np.zeros((2, 2))
    pauli = [
        np.array([[0, 1], [1, 0]], dtype=complex),
        np.array([[0, -1j], [1j, 0]], dtype=complex),
        np.array([[1, 0], [0, -1]], dtype=complex),
    ]
    g0 = np.block([[i2, z2], [z2, -i2]]).astype(complex)
    gam = np.array([g0, *(np.block([[z2, s], [-s, z2]]) for s in pauli)])
    g5 = 1j * gam[0] @ gam[1] @ gam[2] @ gam[3]
    sigma = 0.5j * (np.einsum("aij,bjk->abik", gam, gam) - np.einsum("bij,ajk->abik", gam, gam))
    return gam, g5, sigma


GAMMA, GAMMA5, SIGMA = _matrices()
ONE = np.eye(4, dtype=complex)
P_RIGHT, P_LEFT = 0.5 * (ONE + GAMMA5), 0.5 * (ONE - GAMMA5)


def lower(p: np.ndarray) -> np.ndarray:
    """p_mu from p^mu."""
    return METRIC * p


def slash(p: np.ndarray) -> np.ndarray:
    """gamma^mu p_mu."""
    return np.einsum("m,mij->ij", lower(p), GAMMA)


def bar(matrix: np.ndarray) -> np.ndarray:
    """gamma0 A^dagger gamma0 (the vertex in the conjugate amplitude)."""
    return GAMMA[0] @ matrix.conj().T @ GAMMA[0]


def dipole_vertex(q: np.ndarray, d: float) -> np.ndarray:
    """Gamma^nu = 2 d sigma^{mu nu} q_mu, shape (4 [nu], 4, 4)."""
    return 2.0 * d * np.einsum("abij,a->bij", SIGMA, lower(q))


# --------------------------------------------------------------------------- width
def width_nu_gamma(mass: float, d: float) -> float:
    """Gamma(N -> nu_L gamma) [GeV] for a Dirac N at rest, averaged over its spin.

    The amplitude nubar(k_nu) P_R (2 d sigma^{ab} k_a eps_b) N(p) is squared as a trace,
    summed over the two physical photon polarisations, times the two-body phase space
    |k| / (8 pi m^2).
    """
    p = np.array([mass, 0, 0, 0.0])
    k = 0.5 * mass * np.array([1, 0.3, -0.5, math.sqrt(1 - 0.34)])  # photon, any direction
    k_nu = p - k
    khat = k[1:] / np.linalg.norm(k[1:])
    e1 = np.cross(khat, [0.0, 0.0, 1.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(khat, e1)
    total = 0.0
    for eps3 in (e1, e2):
        eps = np.concatenate([[0.0], eps3])
        vertex = 2 * d * np.einsum("abij,a,b->ij", SIGMA, lower(k), lower(eps))
        amp2 = np.trace(slash(k_nu) @ P_RIGHT @ vertex @ (slash(p) + mass * ONE) @ bar(vertex)
                        @ P_LEFT)
        total += amp2.real
    return 0.5 * mass / (8 * np.pi * mass**2) * 0.5 * total  # |k| = m/2; 1/2: N spin average


# --------------------------------------------------------------------------- scattering
def cm_kinematics(e_nu: float, q2: float, m: float, big_m: float) -> dict[str, np.ndarray]:
    """Four-momenta of nu(k) T(P) -> N(k') T(P') in the centre-of-mass frame, for a target
    of mass M at rest in the lab, lab neutrino energy E [GeV] and Q^2 = -(k - k')^2 [GeV^2].

    Raises:
        ValueError: Q^2 outside the physical range.
    """
    s = big_m**2 + 2 * big_m * e_nu
    root_s = math.sqrt(s)
    p_in = (s - big_m**2) / (2 * root_s)
    e_out = (s + m**2 - big_m**2) / (2 * root_s)
    p_out = math.sqrt(e_out**2 - m**2)
    # t = m^2 - 2 k.k' = m^2 - 2 p_in (e_out - p_out cos) = -Q^2
    cos = (2 * p_in * e_out - m**2 - q2) / (2 * p_in * p_out)
    if not -1 - 1e-8 <= cos <= 1 + 1e-8:  # endpoints up to rounding
        msg = f"Q^2 = {q2} GeV^2 is outside the physical range at E = {e_nu} GeV"
        raise ValueError(msg)
    cos = min(max(cos, -1.0), 1.0)
    sin = math.sqrt(1 - cos**2)
    k = np.array([p_in, 0, 0, p_in])
    big_p = np.array([math.sqrt(p_in**2 + big_m**2), 0, 0, -p_in])
    k_out = np.array([e_out, p_out * sin, 0, p_out * cos])
    return {"k": k, "P": big_p, "k_out": k_out, "P_out": k + big_p - k_out}


def q2_range(e_nu: float, m: float, big_m: float) -> tuple[float, float]:
    """Physical (Q^2_min, Q^2_max) [GeV^2] of nu T -> N T at lab energy E [GeV]."""
    s = big_m**2 + 2 * big_m * e_nu
    p_in = (s - big_m**2) / (2 * math.sqrt(s))
    e_out = (s + m**2 - big_m**2) / (2 * math.sqrt(s))
    p_out = math.sqrt(e_out**2 - m**2)
    # m^2 / (e_out + p_out) = e_out - p_out without the cancellation
    return 2 * p_in * m**2 / (e_out + p_out) - m**2, 2 * p_in * (e_out + p_out) - m**2


def helicity_vector(p: np.ndarray, m: float, h: int) -> np.ndarray:
    """Spin four-vector of helicity h = +-1 for a particle of momentum p^mu and mass m."""
    p3 = p[1:]
    norm = np.linalg.norm(p3)
    return h * np.concatenate([[norm / m], p[0] * p3 / (norm * m)])


def lepton_tensor(k: np.ndarray, k_out: np.ndarray, m: float, d: float, *,
                  helicity: int | None = None, antineutrino: bool = False) -> np.ndarray:
    """L^{rs} = sum over spins of l^r (l^s)*, shape (4, 4).

    nu: l^r = ubar(k') Gamma^r P_L u(k); the N spin projector (k'slash + m)(1 + g5 s'slash)/2
    for one helicity, (k'slash + m) summed. nu-bar -> N-bar: l^r = vbar(k) P_R Gamma^r v(k'),
    summed over the N-bar spins (k'slash - m).
    """
    q = k - k_out
    vertex = dipole_vertex(q, d)
    if antineutrino:
        if helicity is not None:
            raise ValueError("the antineutrino tensor is summed over the N-bar spins")
        left = slash(k) @ P_RIGHT
        return np.array([[np.trace(left @ vertex[r] @ (slash(k_out) - m * ONE) @ bar(vertex[s])
                                   @ P_LEFT) for s in range(4)] for r in range(4)])
    projector = slash(k_out) + m * ONE
    if helicity is not None:
        spin = helicity_vector(k_out, m, helicity)
        projector = projector @ (0.5 * (ONE + GAMMA5 @ slash(spin)))
    return np.array([[np.trace(projector @ vertex[r] @ P_LEFT @ slash(k) @ P_RIGHT @ bar(vertex[s]))
                      for s in range(4)] for r in range(4)])


def hadron_tensor(big_p: np.ndarray, p_out: np.ndarray, big_m: float, f1: float, f2: float,
                  *, spin: str = "dirac") -> np.ndarray:
    """H^{ab} = sum over the final and average over the initial target spin of J^a (J^b)*,
    per unit charge e Z, shape (4, 4).

    ``spin="dirac"``: J^a = ubar(P') [f1 gamma^a + i f2 sigma^{ab} q_b / (2M)] u(P),
    q = P' - P, initial spin averaged (1/2). ``spin="scalar"``: J^a = f1 (P + P')^a (f2 unused).
    """
    if spin == "scalar":
        current = f1 * (big_p + p_out)
        return np.outer(current, current).astype(complex)
    q = p_out - big_p
    vertex = f1 * GAMMA + 1j * f2 / (2 * big_m) * np.einsum("abij,b->aij", SIGMA, lower(q))
    out, into = slash(p_out) + big_m * ONE, slash(big_p) + big_m * ONE
    return 0.5 * np.array([[np.trace(out @ vertex[a] @ into @ bar(vertex[b])) for b in range(4)]
                           for a in range(4)])


def dsigma_dq2_cm2(e_nu: float, q2: float, m: float, big_m: float, *, charge: float,
                   f1: float, f2: float = 0.0, d: float = 1.0, spin: str = "dirac",
                   helicity: int | None = None, antineutrino: bool = False) -> float:
    """dsigma/dQ^2 [cm^2 / GeV^2] of nu T -> N T by one-photon exchange, from the traces.

    |M|^2 = e^2 Z^2 / t^2 L^{rs} H_{rs} (photon propagator -g/t), and
    dsigma/dt = |M|^2 / (16 pi (s - M^2)^2) for a massless neutrino on a target at rest.

    Args:
        e_nu: lab neutrino energy [GeV].
        q2: Q^2 = -t [GeV^2].
        m: HNL mass [GeV].
        big_m: target mass [GeV].
        charge: Z (the target's charge in units of e; 1 for a nucleon, whose neutral case
            is carried by the form factors with charge 1).
        f1: Dirac form factor at this Q^2 (1 for a point nucleus).
        f2: Pauli form factor at this Q^2 (anomalous magnetic moment at Q^2 = 0).
        d: dipole coupling [GeV^-1].
        spin: target spin, ``"dirac"`` or ``"scalar"``.
        helicity: N helicity in the centre-of-mass frame, or None for the spin sum.
        antineutrino: nu-bar T -> N-bar T instead.
    """
    kin = cm_kinematics(e_nu, q2, m, big_m)
    lep = lepton_tensor(kin["k"], kin["k_out"], m, d, helicity=helicity,
                        antineutrino=antineutrino)
    had = hadron_tensor(kin["P"], kin["P_out"], big_m, f1, f2, spin=spin)
    contraction = np.einsum("rs,r,s,rs->", lep, METRIC, METRIC, had)
    if abs(contraction.imag) > 1e-9 * abs(contraction.real):
        msg = f"L.H is not real: {contraction}"
        raise ValueError(msg)
    amp2 = 4 * np.pi * ALPHA * charge**2 / q2**2 * contraction.real
    s = big_m**2 + 2 * big_m * e_nu
    return amp2 / (16 * np.pi * (s - big_m**2) ** 2) * HBARC2_GEV2_CM2
