"""The counting experiment a detector's limit is set with.

:func:`build` gathers, for one detector and preset, what the statistics need: the exposure
[POT] and the expected backgrounds [events] per beam, nothing observed, the preset's CLs
calculation and signal normsys, and the couplings d [GeV^-1] scanned. ND280 2019 sets an
observed limit (0 + 0 events seen); the upgrade an expected one (the Asimov
background-only median). An :class:`Experiment` then gives a signal's CLs
(:mod:`t2khnl.stats`), the excluded interval in d, and the pyhf workspace and patchset of its
signals (:mod:`t2khnl.counting`).

>>> from t2khnl import config
>>> exp = build("nd280", config.load("corrected"))
>>> exp.pot, exp.background, exp.observed
({'fhc': 1.234e+21, 'rhc': 6.29e+20}, {'fhc': 0.0, 'rhc': 0.0}, {'fhc': 0.0, 'rhc': 0.0})
>>> round(exp.cls({"fhc": 2.0, "rhc": 0.9957}), 4)  # exp(-2.9957): the 95% CL edge
0.05
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyhf
from numpy.typing import NDArray

from . import config, counting, stats, t2k2019
from .config import Preset, Statistics
from .couplings import d_grid
from .errors import InputError
from .geometry import spec as geometry_spec

#: INSPIRE reference pyhf's patchset schema requires; a placeholder ("ins" + 7 digits) until
#: the record of arXiv:2412.15051 is known, to be replaced on a HEPData submission.
HEPDATA_PLACEHOLDER = "ins0000000"


@dataclass(frozen=True, eq=False)
class Experiment:
    """One detector's counting experiment (one bin per beam).

    Attributes:
        detector: ``"nd280"`` (observed 0 + 0 events, T2K 2019) or ``"upgrade"`` (Asimov).
        pot: exposure [POT] per beam.
        background: expected background events per beam.
        statistics: the CLs calculation and the signal normsys.
        d_grid_gev_inv: the couplings [GeV^-1] the CLs is scanned on.
    """

    detector: str
    pot: dict[str, float]
    background: dict[str, float]
    statistics: Statistics
    d_grid_gev_inv: NDArray[np.float64]

    @property
    def observed(self) -> dict[str, float]:
        """Observed events per beam: none (ND280 2019 saw 0 + 0; the upgrade's Asimov data
        do not use them)."""
        return dict.fromkeys(self.background, 0.0)

    @functools.cached_property
    def cls(self) -> Callable[[stats.Counts], float]:
        """CLs of a signal (expected events per beam): observed for ND280 2019, the
        median expected on background-only Asimov data for the upgrade."""
        statistics = self.statistics
        if self.detector == "nd280":
            return stats.make_cls_fn(background=self.background, observed=self.observed,
                                     flux_xsec=statistics.flux_xsec,
                                     calctype=statistics.calctype)
        calctype: stats.CalcType = (
            "asymptotics_clsb" if statistics.calctype == "asymptotics_clsb" else "asymptotics")
        return stats.make_cls_fn(background=self.background, flux_xsec=statistics.flux_xsec,
                                 calctype=calctype, expected=True)

    def excluded_interval(self, signal_of_d: Callable[[float], stats.Counts], *,
                          cl: float = 0.95) -> stats.LimitResult:
        """The excluded interval in d (:func:`t2khnl.stats.limit_interval` on
        :attr:`d_grid_gev_inv`) of a signal given as a function of d [GeV^-1]."""
        return stats.limit_interval(signal_of_d, self.d_grid_gev_inv, self.cls, cl=cl)

    def workspace(self, signal: stats.Counts) -> pyhf.Workspace:
        """The pyhf workspace of one signal (expected events per beam)."""
        return counting.build_workspace(signal, background=self.background,
                                        observed=self.observed,
                                        flux_xsec=self.statistics.flux_xsec)

    def patchset(
        self, signals: Mapping[tuple[float, float], stats.Counts]
    ) -> tuple[pyhf.Workspace, pyhf.patchset.PatchSet]:
        """The background-only workspace and one patch per (mass [GeV], d [GeV^-1]) signal
        (:func:`t2khnl.counting.build_patchset`, INSPIRE reference
        :data:`HEPDATA_PLACEHOLDER`)."""
        return counting.build_patchset(
            signals, hepdata=HEPDATA_PLACEHOLDER, background=self.background,
            observed=self.observed, flux_xsec=self.statistics.flux_xsec,
        )


def build(
    detector: str, preset: Preset, *, pot_total: float | None = None,
    d_range: tuple[float, float] | None = None,
) -> Experiment:
    """The counting experiment of ``detector`` under ``preset``.

    Args:
        detector: ``"nd280"`` or ``"upgrade"``.
        preset: its exposure and statistics are used.
        pot_total: total exposure [POT] split FHC:RHC as in 2019 (default: the preset's).
        d_range: range [GeV^-1] of the scanned couplings (:func:`t2khnl.couplings.d_grid`).

    Raises:
        InputError: unknown detector, or ``pot_total`` not positive.
    """
    config.check_choice("detector", detector, config.DETECTORS)
    pot = exposures(detector, preset, pot_total)
    background = t2k_backgrounds(detector, pot,
                                 nd280_backgrounds=preset.statistics.t2k_backgrounds)
    return Experiment(detector, pot, background, preset.statistics, d_grid(d_range))


def from_summary(summary: Mapping[str, Any], preset: Preset) -> Experiment:
    """The experiment a finished limit step used, from its summary (``detector``,
    ``pot_fhc``, ``pot_rhc`` [POT], ``background`` [events], ``d_grid_gev_inv`` [lo, hi,
    n] [GeV^-1]) and the preset it ran (with the summary's statistics)."""
    low, high, _ = summary["d_grid_gev_inv"]
    return Experiment(summary["detector"],
                      {beam: float(summary[f"pot_{beam}"]) for beam in config.BEAMS},
                      {beam: float(n) for beam, n in summary["background"].items()},
                      preset.statistics, d_grid((low, high)))


def exposures(detector: str, preset: Preset, pot_total: float | None) -> dict[str, float]:
    """POT per beam: the preset's nominal exposure, or ``pot_total`` split FHC:RHC as in 2019.

    Raises:
        InputError: ``pot_total`` is not positive.
    """
    if pot_total is None:
        return {beam: preset.pot(detector, beam) for beam in config.BEAMS}
    if not pot_total > 0:
        msg = f"--pot must be positive, got {pot_total}"
        raise InputError(msg)
    return t2k2019.pot_split(pot_total)


def upgrade_volume_ratio() -> float:
    """Fiducial TPC volume of the upgrade over ND280's: (3 TPCs + 2 HA-TPCs) / 3 TPCs, from
    the geometry files (geometry/nd280upgrade.yaml, geometry/nd280.yaml); about 1.261."""
    return (geometry_spec.fiducial_volume_m3("nd280upgrade")
            / geometry_spec.fiducial_volume_m3("nd280"))


def t2k_backgrounds(
    detector: str, pot: Mapping[str, float], *, nd280_backgrounds: bool
) -> dict[str, float]:
    """Expected background events by beam: T2K 2019's, scaled with POT and, for the upgrade,
    with the fiducial TPC volume (:func:`upgrade_volume_ratio`).

    The two detectors differ on purpose (docs/statistics.md): the ND280 2019 constraint
    carries the backgrounds only when asked (``nd280_backgrounds``, the preset's
    ``statistics.t2k_backgrounds``; the paper ignores them), while the upgrade's Asimov
    sensitivity always carries them, whatever ``nd280_backgrounds`` says.

    Args:
        detector: ``"nd280"`` or ``"upgrade"``.
        pot: exposure [POT] by beam (``"fhc"``, ``"rhc"``).
        nd280_backgrounds: whether the ND280 constraint has the 2019 backgrounds.

    Raises:
        InputError: unknown detector.
    """
    config.check_choice("detector", detector, config.DETECTORS)
    if detector == "nd280" and not nd280_backgrounds:
        return dict.fromkeys(pot, 0.0)
    scale = 1.0 if detector == "nd280" else upgrade_volume_ratio()
    return {beam: t2k2019.BACKGROUND[beam] * pot[beam] / t2k2019.POT[beam] * scale
            for beam in pot}
