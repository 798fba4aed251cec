"""NuHepMC 1.0.0 (HepMC3 ASCII) events through pyhepmc.

Each event is two vertices at their positions and times: the primary vertex (status 1, the
upscatter nu A -> N A) and the HNL decay (status :data:`DECAY_VERTEX_STATUS`, N -> nu e+
e-). Particle statuses follow NuHepMC P.R.1: incoming neutrino 4, target nucleus 20, HNL 2
(decayed), recoil and decay products 1. Units: GeV and mm; a vertex's time is c t [mm].
Which conventions of the specification (github.com/NuHepMC/Spec, README.md) are met is
listed in the package README.

HepMC3 3.2.5 (inside pyhepmc 2.16) writes a ``VectorDoubleAttribute`` with six decimals
(``std::to_string``), which turns a time of 1e-8 s into 0; ``lab_pos`` and the vector
attributes below are therefore written as strings with full precision. The ASCII format
keeps attributes as text, so a reader asking for a ``VectorDoubleAttribute`` (or pyhepmc's
``astype(list[float])``) parses them back exactly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import model
from .._version import __version__
from ..errors import InputFileError, MissingDependencyError
from . import records
from .records import C_M_PER_S, HNL_PDG
from .sample import ExportSample, header

#: Process ID of the upscatter (NuHepMC E.C.1: 700+ other, X50-X99 neutral-current-like,
#: negative for electromagnetic: the transition magnetic moment couples through a photon).
PROCESS_ID = -750
#: Status of the decay vertex (NuHepMC V.R.1: 21-999 generator-dependent; 21 is V.C.1's).
DECAY_VERTEX_STATUS = 31
#: NuHepMC status of each record particle (:data:`t2khnl.export.records.PARTICLES`).
PARTICLE_STATUS = (4, 20, 2, 1, 1, 1, 1)
#: Conventions (and suggestions) followed, signalled as G.R.4 asks.
CONVENTIONS = ("G.C.1", "G.C.2", "G.C.3", "G.C.5", "E.C.1", "E.C.5", "G.S.1", "G.S.2")
_VERTEX_INFO = {
    1: ("PrimaryVertex", "the upscatter nu A -> N A (NuHepMC primary vertex)"),
    DECAY_VERTEX_STATUS: ("HNLDecay", "the decay N -> nu e+ e- inside a fiducial volume"),
}
_PARTICLE_INFO = {
    1: ("UndecayedPhysicalParticle", "outgoing particle: recoil nucleus, nu, e+, e-"),
    2: ("DecayedPhysicalParticle", "the HNL, which decays at the second vertex"),
    4: ("IncomingBeamParticle", "the incoming neutrino"),
    20: ("Target", "the target nucleus, at rest"),
}
_MM_PER_M = 1000.0


def require() -> Any:
    """Import pyhepmc, or explain how to install it.

    Raises:
        MissingDependencyError: pyhepmc is not installed.
    """
    try:
        import pyhepmc
    except ImportError as err:
        msg = ("the nuhepmc format needs pyhepmc: pip install 't2khnl[nuhepmc]' "
               "(PyPI package pyhepmc)")
        raise MissingDependencyError(msg) from err
    return pyhepmc


def _numbers(values: Any) -> str:
    """Numbers as one space-separated string, each with full double precision."""
    return " ".join(f"{float(v):.17g}" for v in np.ravel(values))


def run_info(sample: ExportSample) -> Any:
    """The ``GenRunInfo`` of an export: NuHepMC's required and followed-convention
    attributes, and t2khnl's header (``t2khnl.*``)."""
    hp = require()
    meta, norm = sample.metadata, sample.normalisation
    versions = meta.get("versions", {})
    info = hp.GenRunInfo()
    info.tools = [
        ("t2khnl", __version__, "dipole-portal HNL events: SIREN upscattering, exact decay "
         "in the fiducial volumes, N -> nu e+ e-"),
        ("SIREN", str(versions.get("siren", "unknown")), "upscattering injection"),
        ("DarkNews", str(versions.get("DarkNews", "unknown")), "upscattering amplitudes"),
    ]
    info.weight_names = ["CV"]
    mass, d_gev_inv = float(meta["mass_gev"]), float(meta["d_gev_inv"])
    width = float(model.total_width_gev(mass, d_gev_inv, meta["width_convention"]))
    attributes: dict[str, Any] = {
        "NuHepMC.Version.Major": 1, "NuHepMC.Version.Minor": 0, "NuHepMC.Version.Patch": 0,
        "NuHepMC.Conventions": list(CONVENTIONS),
        "NuHepMC.Exposure.POT": norm.pot,
        # G.R.5 via G.C.2: expected events per POT for the whole simulated detector, so that
        # FATX x POT x sum(CV in a bin) / sum(CV) is the prediction in that bin
        "NuHepMC.FluxAveragedTotalCrossSection": norm.expected_ee_decays / norm.pot,
        "NuHepMC.FluxAveragedTotalCrossSectionUncertainty": norm.mc_error_ee / norm.pot,
        "NuHepMC.Units.CrossSection.Unit": "1/POT",
        "NuHepMC.Units.CrossSection.TargetScale": "WholeDetector",
        "NuHepMC.ProcessIDs": [PROCESS_ID],
        f"NuHepMC.ProcessInfo[{PROCESS_ID}].Name": "HNLDipoleUpscatter",
        f"NuHepMC.ProcessInfo[{PROCESS_ID}].Description":
            "nu A -> N A through the nu_mu-N transition magnetic moment (photon exchange) "
            f"on the whole nucleus, channels {','.join(meta.get('channels', []))}",
        "NuHepMC.VertexStatusIDs": sorted(_VERTEX_INFO),
        "NuHepMC.ParticleStatusIDs": sorted(_PARTICLE_INFO),
        "NuHepMC.AdditionalParticleNumbers": [HNL_PDG, -HNL_PDG],
        "NuHepMC.Citations.Generator.arXiv": ["2412.15051"],
        "NuHepMC.Provenance.t2khnl.NtupleMetadata": json.dumps(meta, sort_keys=True),
    }
    for status, (name, text) in _VERTEX_INFO.items():
        attributes[f"NuHepMC.VertexStatusInfo[{status}].Name"] = name
        attributes[f"NuHepMC.VertexStatusInfo[{status}].Description"] = text
    for status, (name, text) in _PARTICLE_INFO.items():
        attributes[f"NuHepMC.ParticleStatusInfo[{status}].Name"] = name
        attributes[f"NuHepMC.ParticleStatusInfo[{status}].Description"] = text
    for pdg, name in ((HNL_PDG, "N4"), (-HNL_PDG, "N4bar")):
        key = f"NuHepMC.AdditionalParticleNumber[{pdg}]"
        attributes[f"{key}.Name"] = name
        attributes[f"NuHepMC.AdditionalParticleInfo[{pdg}].Description"] = (
            "Dirac heavy neutral lepton with a transition magnetic moment to nu_mu "
            "(SIREN ParticleType N4, DarkNews neutrino4)")
        attributes[f"{key}.t2khnl.Mass"] = mass
        attributes[f"{key}.t2khnl.Width"] = width
        attributes[f"{key}.t2khnl.Spin"] = "1/2"
        attributes[f"{key}.t2khnl.Charge"] = 0
    for key, value in header(sample).items():
        attributes[f"t2khnl.{key}"] = (json.dumps(value) if isinstance(value, list | dict)
                                       else value)
    for key, value in attributes.items():
        if value is not None:
            info.attributes[key] = value
    return info


def write(path: Path, sample: ExportSample) -> None:
    """Write the events of ``sample`` to ``path`` (HepMC3 ASCII with NuHepMC attributes).

    Args:
        path: the output file (written as is: the caller makes it atomic).
        sample: the events.

    Raises:
        InputFileError: HepMC3 reports a write failure.
    """
    hp = require()
    info = run_info(sample)
    rec = sample.records
    position_mm = rec.vertex_m * _MM_PER_M
    ct_mm = rec.vertex_t_s * C_M_PER_S * _MM_PER_M
    writer = hp.io.WriterAscii(str(path), info)
    try:
        for i in range(rec.entry.size):
            event = hp.GenEvent(info, hp.Units.GEV, hp.Units.MM)
            event.event_number = i
            event.weights = [float(sample.weight[i])]
            particles = []
            for k, status in enumerate(PARTICLE_STATUS):
                particle = hp.GenParticle(hp.FourVector(*rec.p4_gev[i, k]), int(rec.pdg[i, k]),
                                          status)
                particle.generated_mass = float(rec.mass_gev[i, k])
                particles.append(particle)
            for v, status in enumerate((1, DECAY_VERTEX_STATUS)):
                vertex = hp.GenVertex(hp.FourVector(*position_mm[i, v], ct_mm[i, v]))
                vertex.status = status
                event.add_vertex(vertex)
                for k in records.VERTEX_IN[v]:
                    vertex.add_particle_in(particles[k])
                for k in records.VERTEX_OUT[v]:
                    vertex.add_particle_out(particles[k])
            event.attributes["signal_process_id"] = PROCESS_ID
            event.attributes["lab_pos"] = _numbers(
                [*position_mm[i, 0], rec.vertex_t_s[i, 0]])  # E.R.5 with E.C.5: mm, and t in s
            event.attributes["t2khnl.ntuple_entry"] = int(rec.entry[i])
            writer.write(event)
    finally:
        writer.close()
    if writer.failed():
        msg = f"HepMC3 could not write {path}"
        raise InputFileError(msg)

