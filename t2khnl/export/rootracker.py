"""GENIE-format rooTracker trees (``gRooTracker``), as edep-sim's rooTracker reader takes them.

:func:`write` fills the branches and types of GENIE's gRooTracker that edep-sim connects
(``EvtNum``, ``EvtFlags``, ``EvtCode``, ``EvtVtx[4]`` [m, s], ``StdHep*`` with momenta in
GeV, the ``NuParent*`` branches zero-filled). ``EvtVtx`` is the HNL decay point, since
edep-sim tracks every status-1 particle from it; statuses (:data:`PARTICLE_STATUS`) follow
GENIE, with 15 (nuclear remnant) for the recoil. uproot cannot write TBits or TObjString
branches, so this format uses ROOT's Python bindings (``pip install 't2khnl[rootracker]'``).

Details: README "Export for detector simulation", docs/export.md ("rooTracker").
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputFileError, MissingDependencyError
from . import records
from .sample import ExportSample, header

TREE = "gRooTracker"
#: Name of the TObjString holding the run description (JSON).
HEADER = "header"
#: GENIE status of each record particle (:data:`t2khnl.export.records.PARTICLES`).
PARTICLE_STATUS = (0, 0, 3, 15, 1, 1, 1)


def require() -> Any:
    """Import ROOT's Python bindings (without the PyPI build's alpha-stage warning).

    Raises:
        MissingDependencyError: ROOT is not installed.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            import ROOT
    except ImportError as err:
        msg = ("the rootracker format needs ROOT's Python bindings: pip install "
               "'t2khnl[rootracker]' (PyPI package root), or a ROOT built with PyROOT")
        raise MissingDependencyError(msg) from err
    return ROOT


def _code(nu_pdg: int, nucleus_pdg: int, scatterer_pdg: int, hnl_pdg: int) -> str:
    """The ``EvtCode`` string, in GENIE's key:value; style: ``tgt`` the nucleus, ``N`` the
    struck nucleon of an incoherent upscatter (absent for a coherent one, as GENIE writes
    it), ``hnl`` the HNL's code."""
    struck = "" if scatterer_pdg == nucleus_pdg else f"N:{scatterer_pdg};"
    kind = "Coherent" if not struck else "Elastic"
    return (f"nu:{nu_pdg};tgt:{nucleus_pdg};{struck}proc:EM[dipole],{kind}HNLUpscatter;"
            f"hnl:{hnl_pdg};dec:nu,e+,e-;")


def write(path: Path, sample: ExportSample) -> None:
    """Write ``sample`` as a ``gRooTracker`` tree (plus a ``header`` TObjString) to ``path``.

    Args:
        path: the output file (written as is: the caller makes it atomic).
        sample: the events.

    Raises:
        InputFileError: ROOT cannot create the file.
    """
    root = require()
    rec = sample.records
    n_particles = len(records.PARTICLES)
    file = root.TFile.Open(str(path), "RECREATE")
    if not file or file.IsZombie():
        msg = f"ROOT could not create {path}"
        raise InputFileError(msg)
    tree = root.TTree(TREE, "t2khnl dipole-portal HNL events (GENIE rooTracker layout)")
    ints = {name: np.zeros(1, dtype=np.int32) for name in
            ("EvtNum", "StdHepN", "NuParentPdg", "NuParentDecMode", "NuParentProNVtx")}
    doubles = {name: np.zeros(1) for name in ("EvtXSec", "EvtDXSec", "EvtWght", "EvtProb")}
    vectors = {name: np.zeros(4) for name in ("EvtVtx", "NuParentDecP4", "NuParentDecX4",
                                              "NuParentProP4", "NuParentProX4")}
    particle_ints = {name: np.zeros(n_particles, dtype=np.int32) for name in
                     ("StdHepPdg", "StdHepStatus", "StdHepFd", "StdHepLd", "StdHepFm",
                      "StdHepLm")}
    particle_rows = {"StdHepX4": np.zeros((n_particles, 4)),
                     "StdHepP4": np.zeros((n_particles, 4)),
                     "StdHepPolz": np.zeros((n_particles, 3))}
    flags, code = root.TBits(), root.TObjString("")
    tree.Branch("EvtNum", ints["EvtNum"], "EvtNum/I")
    tree.Branch("EvtFlags", flags, 32000, 1)
    tree.Branch("EvtCode", code, 32000, 1)
    for name, value in doubles.items():
        tree.Branch(name, value, f"{name}/D")
    tree.Branch("EvtVtx", vectors["EvtVtx"], "EvtVtx[4]/D")
    tree.Branch("StdHepN", ints["StdHepN"], "StdHepN/I")
    for name, column in particle_ints.items():
        tree.Branch(name, column, f"{name}[StdHepN]/I")
    for name, rows in particle_rows.items():
        tree.Branch(name, rows, f"{name}[StdHepN][{rows.shape[1]}]/D")
    for name in ("NuParentPdg", "NuParentDecMode"):
        tree.Branch(name, ints[name], f"{name}/I")
    for name in ("NuParentDecP4", "NuParentDecX4", "NuParentProP4", "NuParentProX4"):
        tree.Branch(name, vectors[name], f"{name}[4]/D")
    tree.Branch("NuParentProNVtx", ints["NuParentProNVtx"], "NuParentProNVtx/I")

    ints["StdHepN"][0] = n_particles
    particle_ints["StdHepStatus"][:] = PARTICLE_STATUS
    particle_ints["StdHepFm"][:], particle_ints["StdHepLm"][:] = np.array(records.MOTHERS).T
    particle_ints["StdHepFd"][:], particle_ints["StdHepLd"][:] = np.array(records.DAUGHTERS).T
    x4 = rec.production_x4()
    for i in range(rec.entry.size):
        ints["EvtNum"][0] = i
        code.SetString(_code(int(rec.pdg[i, 0]), int(rec.nucleus_pdg[i]), int(rec.pdg[i, 1]),
                             int(rec.pdg[i, 2])))
        doubles["EvtWght"][0] = sample.weight[i]
        doubles["EvtProb"][0] = sample.decay_probability[i]
        vectors["EvtVtx"][:3] = rec.vertex_m[i, 1]
        vectors["EvtVtx"][3] = rec.vertex_t_s[i, 1]
        particle_ints["StdHepPdg"][:] = rec.pdg[i]
        particle_rows["StdHepP4"][:] = rec.p4_gev[i]
        particle_rows["StdHepX4"][:] = x4[i]
        tree.Fill()
    tree.Write()
    root.TObjString(json.dumps(header(sample), sort_keys=False)).Write(HEADER)
    file.Close()
