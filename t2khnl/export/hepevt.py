"""HEPEVT text events, as edep-sim's HEPEVT reader takes them (no ROOT needed).

:func:`write` writes per event a line ``<event number> <particles>`` and one line per
particle with the 15 fields ``ISTHEP IDHEP JMOHEP1 JMOHEP2 JDAHEP1 JDAHEP2 PX PY PZ E M X Y
Z T``: GeV, the production point in cm and its time in ns, mothers and daughters counted
from 1 (edep-sim's ``marley`` flavour). Statuses (:data:`PARTICLE_STATUS`): 3 incoming
neutrino and target, 2 HNL, 1 nu e+ e-, 15 recoil. The run description and each event's
weight are ``#`` comments.

Details: README "Export for detector simulation", docs/export.md ("HEPEVT").
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
