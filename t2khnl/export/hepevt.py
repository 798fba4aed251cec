"""HEPEVT text events, as edep-sim's HEPEVT reader takes them (no ROOT needed).

Each event is a line ``<event number> <particles>`` followed by one line per particle with
the 15 HEPEVT fields

    ISTHEP IDHEP JMOHEP1 JMOHEP2 JDAHEP1 JDAHEP2 PX PY PZ E M X Y Z T

momenta and masses in GeV, the particle's production point in cm and its time in ns, mother
and daughter lines counted from 1 (0: none). This is edep-sim's ``marley`` flavour
(``/generator/kinematics/hepevt/flavor marley``; ClarkMcGrew/edep-sim
src/kinem/EDepSimHEPEVTKinematicsGenerator.cc, lines 266-281: cm and ns), which is also the
layout of LArSoft's text-file generator. Its default ``pythia`` flavour (8 fields, no
position) leaves the daughter indices it later uses uninitialised (same file, lines 234,
243-244, 306 and 324): we do not write it.

edep-sim reads only ISTHEP = 1 lines and places them at the position of the last one read
(all at the HNL decay point here). Statuses follow HEPEVT: 3 (documentation) for the
incoming neutrino and the target, 2 for the decayed HNL, 1 for nu e+ e-, and 15 (the
program-specific range 11-200) for the recoil, which belongs to the upscatter vertex.
Everything after a ``#`` is a comment for edep-sim's reader (same file, line 43): the run
description and each event's weight are written as comments.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import records
from .sample import ExportSample, header

#: HEPEVT status of each record particle (:data:`t2khnl.export.records.PARTICLES`).
PARTICLE_STATUS = (3, 3, 2, 15, 1, 1, 1)
_CM_PER_M, _NS_PER_S = 100.0, 1e9


def write(path: Path, sample: ExportSample) -> None:
    """Write ``sample`` as HEPEVT text (edep-sim ``marley`` flavour) to ``path``.

    Args:
        path: the output file (written as is: the caller makes it atomic).
        sample: the events.
    """
    rec = sample.records
    n, k = rec.pdg.shape
    x4 = rec.production_x4()
    family = np.array([(m1 + 1, m2 + 1, d1 + 1, d2 + 1) for (m1, m2), (d1, d2) in
                       zip(records.MOTHERS, records.DAUGHTERS, strict=True)])
    integers = np.concatenate([np.broadcast_to(PARTICLE_STATUS, (n, k))[:, :, None],
                               rec.pdg[:, :, None], np.broadcast_to(family, (n, k, 4))], axis=2)
    reals = np.concatenate([rec.p4_gev, rec.mass_gev[:, :, None], x4[:, :, :3] * _CM_PER_M,
                            x4[:, :, 3:] * _NS_PER_S], axis=2)
    # one %-format per line over Python lists: ~3x faster than formatting number by number
    line = "%d %d %d %d %d %d " + " ".join(["%.17g"] * reals.shape[2]) + "\n"
    rows = [tuple(i) + tuple(r) for i, r in zip(integers.reshape(-1, 6).tolist(),
                                                 reals.reshape(-1, reals.shape[2]).tolist(),
                                                 strict=True)]
    with open(path, "w", encoding="ascii") as out:
        out.write("# t2khnl HNL events, HEPEVT text (edep-sim flavour 'marley'): per particle "
                  "ISTHEP IDHEP JMOHEP1 JMOHEP2 JDAHEP1 JDAHEP2 PX PY PZ E M [GeV] X Y Z "
                  "[cm] T [ns]\n")
        for key, value in header(sample).items():
            out.write(f"# {key}: {json.dumps(value)}\n")
        for i in range(n):
            out.write(f"# event {i}: weight {sample.weight[i]:.17g}, ntuple entry "
                      f"{rec.entry[i]}\n{i} {k}\n")
            out.writelines(line % row for row in rows[i * k:(i + 1) * k])
