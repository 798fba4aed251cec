"""Event records: the particles of each ntuple event, in one order every export format shares.

An event is nu A -> N A' (the upscatter, SIREN) followed by N -> nu e+ e- (the decay, in a
fiducial box): seven particles (:data:`PARTICLES`: incoming nu, target at rest, HNL,
recoil = p_nu + p_target - p_N, decay nu, e+, e-; momenta [GeV]) at two vertices, the
upscatter at ``vtx_*`` (time 0) and the decay at ``dec_*`` (t = |dec - vtx| / (beta c)),
positions in SIREN's detector coordinates [m] plus an optional offset. The target of a
p-el or n-el event is the bound nucleon it was rebuilt on (:func:`scatterer_pdg`); the HNL
is 5914 (N) or -5914 (N-bar). :func:`build` makes the :class:`EventRecords`.

Details: docs/export.md ("The event record").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import awkward as ak
import numpy as np

from ..errors import InputFileError
from ..injection import HNL_PDG
from ..model import M_ELECTRON_GEV

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Speed of light [m/s].
C_M_PER_S = 299_792_458.0
#: PDG codes used besides the ntuple's.
PROTON_PDG, NEUTRON_PDG, HYDROGEN_PDG, NU_MU_PDG, ELECTRON_PDG = 2212, 2112, 1000010010, 14, 11

#: The particles of a record, in order.
PARTICLES = ("nu", "target", "hnl", "recoil", "decay_nu", "e+", "e-")
#: Vertex (0 upscatter, 1 decay) each particle leaves from; the incoming ones enter 0.
VERTEX_OF = (0, 0, 0, 0, 1, 1, 1)
#: Particles entering and leaving each vertex.
VERTEX_IN = ((0, 1), (2,))
VERTEX_OUT = ((2, 3), (4, 5, 6))
#: First and last mother / daughter of each particle (indices into the record, -1: none).
MOTHERS = ((-1, -1), (-1, -1), (0, 1), (0, 1), (2, 2), (2, 2), (2, 2))
DAUGHTERS = ((2, 3), (2, 3), (4, 6), (-1, -1), (-1, -1), (-1, -1), (-1, -1))

#: Branches an ntuple needs for export (nu_pdg, nu_d*, target_mass_gev, hnl_pdg and dnu_*
#: came with the export).
RECORD_BRANCHES = (
    "weight", "decay_probability", "e_nu", "nu_pdg", "nu_dx", "nu_dy", "nu_dz", "target_pdg",
    "target_mass_gev", "channel", "hnl_pdg", "vtx_x", "vtx_y", "vtx_z", "dec_x", "dec_y", "dec_z",
    *(f"{p}_{c}" for p in ("hnl", "ep", "em", "dnu") for c in ("e", "px", "py", "pz")),
)


class EventRecords(NamedTuple):
    """The records of n events (particle order: :data:`PARTICLES`).

    Attributes:
        entry: entry of each event in the ntuple, shape (n,).
        nucleus_pdg: the nucleus each interaction happened in (``target_pdg``), shape (n,).
        pdg: PDG codes, shape (n, 7).
        p4_gev: four-momenta (px, py, pz, E) [GeV], shape (n, 7, 4).
        mass_gev: each particle's mass [GeV] (the one its four-momentum has), shape (n, 7).
        vertex_m: upscatter and decay points (x, y, z) [m], shape (n, 2, 3).
        vertex_t_s: their times [s] (0 at the upscatter), shape (n, 2).
    """

    entry: NDArray[np.int64]
    nucleus_pdg: NDArray[np.int64]
    pdg: NDArray[np.int64]
    p4_gev: NDArray[np.float64]
    mass_gev: NDArray[np.float64]
    vertex_m: NDArray[np.float64]
    vertex_t_s: NDArray[np.float64]

    def production_x4(self) -> NDArray[np.float64]:
        """Where and when each particle starts: (x, y, z [m], t [s]), shape (n, 7, 4);
        the incoming particles are given the upscatter point."""
        x4 = np.concatenate([self.vertex_m, self.vertex_t_s[:, :, None]], axis=2)
        return x4[:, list(VERTEX_OF), :]


def check_branches(fields: Sequence[str], source: str) -> None:
    """Fail when an ntuple lacks the branches an event record needs.

    Args:
        fields: the ntuple's branch names.
        source: the ntuple's name, for the message.

    Raises:
        InputFileError: branches are missing (an ntuple written before the export existed).
    """
    missing = [name for name in RECORD_BRANCHES if name not in fields]
    if missing:
        msg = (f"{source} lacks the branches an event record needs ({', '.join(missing)}): "
               "it was written by an older t2khnl; simulate it again with this version")
        raise InputFileError(msg)


def scatterer_pdg(target_pdg: NDArray[np.int64], channel: NDArray[np.int32]) -> NDArray[np.int64]:
    """PDG code of what each neutrino scattered on: the nucleus for coherent events, the struck
    proton (p-el, hydrogen included) or neutron (n-el) for incoherent ones."""
    from ..nucleons import CHANNEL_CODES

    return np.select([channel == CHANNEL_CODES["p-el"], channel == CHANNEL_CODES["n-el"],
                      target_pdg == HYDROGEN_PDG],
                     [PROTON_PDG, NEUTRON_PDG, PROTON_PDG], default=target_pdg)


def build(events: ak.Array, mass_gev: float, entries: NDArray[np.int64],
          offset_m: Sequence[float] = (0.0, 0.0, 0.0)) -> EventRecords:
    """The records of the ntuple events ``entries`` (in that order, repeats allowed).

    Args:
        events: the ntuple's events (:data:`RECORD_BRANCHES` present).
        mass_gev: the HNL mass m_N [GeV] (the ntuple's ``metadata["mass_gev"]``).
        entries: which events, shape (n,).
        offset_m: added to every position (x, y, z) [m].

    Returns:
        The records.
    """
    entries = np.asarray(entries, dtype=np.int64)

    def col(name: str) -> NDArray[np.float64]:
        return ak.to_numpy(events[name])[entries]

    def p4(prefix: str) -> NDArray[np.float64]:
        return np.column_stack([col(f"{prefix}_{c}") for c in ("px", "py", "pz", "e")])

    n = entries.size
    e_nu = col("e_nu")
    nu = np.column_stack([e_nu[:, None] * np.column_stack(
        [col("nu_dx"), col("nu_dy"), col("nu_dz")]), e_nu])
    target_mass = col("target_mass_gev")
    target = np.zeros((n, 4))
    target[:, 3] = target_mass
    hnl = p4("hnl")
    hnl_pdg = col("hnl_pdg").astype(np.int64)
    nucleus = col("target_pdg").astype(np.int64)
    scatterer = scatterer_pdg(nucleus, col("channel").astype(np.int32))
    pdg = np.column_stack([
        col("nu_pdg").astype(np.int64), scatterer, hnl_pdg, scatterer,
        NU_MU_PDG * np.sign(hnl_pdg), np.full(n, -ELECTRON_PDG), np.full(n, ELECTRON_PDG),
    ])
    p4_all = np.stack([nu, target, hnl, nu + target - hnl, p4("dnu"), p4("ep"), p4("em")],
                      axis=1)
    zeros = np.zeros(n)
    mass = np.column_stack([zeros, target_mass, np.full(n, float(mass_gev)), target_mass,
                            zeros, np.full(n, M_ELECTRON_GEV), np.full(n, M_ELECTRON_GEV)])
    shift = np.asarray(offset_m, dtype=float)
    upscatter = np.column_stack([col("vtx_x"), col("vtx_y"), col("vtx_z")])
    decay = np.column_stack([col("dec_x"), col("dec_y"), col("dec_z")])
    speed = np.linalg.norm(hnl[:, :3], axis=1) / hnl[:, 3] * C_M_PER_S
    flight_s = np.linalg.norm(decay - upscatter, axis=1) / speed
    return EventRecords(
        entry=entries,
        nucleus_pdg=nucleus,
        pdg=pdg,
        p4_gev=p4_all,
        mass_gev=mass,
        vertex_m=np.stack([upscatter + shift, decay + shift], axis=1),
        vertex_t_s=np.column_stack([zeros, flight_s]),
    )



__all__ = ["DAUGHTERS", "HNL_PDG", "MOTHERS", "PARTICLES", "RECORD_BRANCHES", "VERTEX_IN",
           "VERTEX_OF", "VERTEX_OUT", "EventRecords", "build", "check_branches", "scatterer_pdg"]
