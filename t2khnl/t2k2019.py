"""The published numbers of T2K's 2019 ND280 heavy-neutrino search (e+e-nu channel; PRD 100,
052006).

One definition for every module: the exposure by beam mode, the expected backgrounds and
the observed events. The packaged presets' ``exposure_pot.nd280`` state the same exposure
(checked by tests/test_t2k2019.py).
"""

from __future__ import annotations

#: ND280 2019 exposure [POT] by beam mode: 12.34e20 FHC (neutrino), 6.29e20 RHC.
POT: dict[str, float] = {"fhc": 1.234e21, "rhc": 6.29e20}
#: Expected backgrounds [events] of the search, by beam mode.
BACKGROUND: dict[str, float] = {"fhc": 0.563, "rhc": 0.015}
#: Observed events, by beam mode.
OBSERVED: dict[str, float] = {"fhc": 0.0, "rhc": 0.0}


def pot_split(pot_total: float) -> dict[str, float]:
    """A total exposure [POT] split FHC:RHC as in 2019.

    >>> split = pot_split(2e22)
    >>> round(split["fhc"] / split["rhc"], 6) == round(12.34 / 6.29, 6)
    True
    >>> round(sum(split.values()) / 2e22, 12)
    1.0
    """
    total_2019 = sum(POT.values())
    return {beam: pot_total * pot / total_2019 for beam, pot in POT.items()}
