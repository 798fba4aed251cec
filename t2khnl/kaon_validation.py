"""The kaon-decay validation of Suppl. Fig. 1: this work's |U_muN|² limits at ND280 against
AFH's, like for like and with the analysis's assumptions, and the factor each of AFH's
assumptions contributes (:mod:`t2khnl.kaon` has the physics, :mod:`t2khnl.afh` AFH's own
inputs; :mod:`t2khnl.plots.validation` draws the result).
"""

from __future__ import annotations

import logging
import os
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import afh, kaon, kaon_reference

logger = logging.getLogger(__name__)

#: The validation's target: like for like within this fraction of AFH.
TARGET = 0.2


class Factor(NamedTuple):
    """What one of AFH's assumptions does to this work's limit.

    Attributes:
        name: the assumption switched to AFH's.
        median_ratio: median over the masses of (limit with it) / (limit without it).
    """

    name: str
    median_ratio: float


class ValidationCurves(NamedTuple):
    """Everything Suppl. Fig. 1 draws.

    Attributes:
        nd280_2019: this work, analysis assumptions, :data:`t2khnl.kaon.POT_ND280_2019_FHC`.
        t2k_full: this work, analysis assumptions, :data:`t2khnl.kaon.POT_T2K_FULL_FHC`.
        afh_exposure: this work, analysis assumptions at AFH's exposure.
        like_for_like: this work with AFH's efficiency, fluxes, exposure and decay volume.
        afh_nd280_2019: AFH's ND280 limit from their event-rate table.
        afh_file: AFH's "T2K full" file x √10.7 (their ND280 curve, as digitised).
        agreement: ``like_for_like`` over ``afh_nd280_2019``.
        analysis_agreement: ``afh_exposure`` over ``afh_nd280_2019``.
        file_agreement: ``afh_file`` over ``afh_nd280_2019``.
        factors: the chain from ``nd280_2019`` to ``like_for_like``, one assumption at a time
            (medians over the masses of ``agreement``).
    """

    nd280_2019: kaon.LimitCurve
    t2k_full: kaon.LimitCurve
    afh_exposure: kaon.LimitCurve
    like_for_like: kaon.LimitCurve
    afh_nd280_2019: kaon_reference.AFHCurve
    afh_file: kaon_reference.AFHCurve
    agreement: kaon_reference.Agreement
    analysis_agreement: kaon_reference.Agreement
    file_agreement: kaon_reference.Agreement
    factors: tuple[Factor, ...]


def _median_ratio(new: kaon.LimitCurve, old: kaon.LimitCurve,
                  range_mev: tuple[float, float]) -> float:
    """Median of new / old over the masses in ``range_mev`` [MeV] where both are finite."""
    mass_mev = new.mass_gev * 1e3
    both = (np.isfinite(new.u2) & np.isfinite(old.u2) & (mass_mev >= range_mev[0])
            & (mass_mev <= range_mev[1]))
    return float(np.median(new.u2[both] / old.u2[both]))


def _as_limit(curve: kaon_reference.AFHCurve) -> kaon.LimitCurve:
    """An AFH curve as a :class:`t2khnl.kaon.LimitCurve` (to compare it like ours)."""
    mass_gev = curve.mass_mev / 1e3
    return kaon.LimitCurve(mass_gev, curve.u2, kaon.EVENTS_90CL / curve.u2, afh.POT)


def curves(
    masses_gev: npt.ArrayLike | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    kinematics: kaon.Kinematics = "momentum",
    opening_angle_max_deg: float | None = None,
) -> ValidationCurves:
    """Compute our curves, read AFH's and compare them.

    Args:
        masses_gev: HNL masses [GeV]; default :func:`t2khnl.kaon.default_masses_gev`.
        data_dir: the input-data folder (kaon fluxes, efficiencies, AFH's files).
        kinematics: HNL momentum from the neutrino energy (:func:`t2khnl.kaon.hnl_spectrum`).
        opening_angle_max_deg: e+e- opening-angle cut [deg] of the analysis curves, or
            ``None`` (as AFH).

    Returns:
        The curves, the agreement metrics and the factors.
    """
    options: dict[str, Any] = {"kinematics": kinematics, "data_dir": data_dir}
    nd280 = kaon.limit_curve(masses_gev, pot=kaon.POT_ND280_2019_FHC,
                             opening_angle_max_deg=opening_angle_max_deg, **options)
    masses = nd280.mass_gev
    exposure = nd280.rescaled(afh.POT)

    def their_efficiency(mass_gev: float) -> float:
        return afh.efficiency(mass_gev, data_dir)

    efficiency = kaon.limit_curve(masses, pot=afh.POT, efficiency=their_efficiency, **options)
    flux = kaon.limit_curve(masses, pot=afh.POT, efficiency=their_efficiency,
                            flux=afh.kaon_flux(data_dir), **options)
    like = kaon.limit_curve(masses, pot=afh.POT, efficiency=their_efficiency,
                            flux=afh.kaon_flux(data_dir), boxes=afh.decay_box(), **options)
    table = afh.table_limit(data_dir).as_curve()
    stored = kaon_reference.read_afh(data_dir, exposure="nd280_2019")
    chain = (("exposure 12.34e20 -> 18.63e20 POT", exposure, nd280),
             ("AFH's efficiency", efficiency, exposure),
             ("AFH's kaon fluxes (nu_mu + nu_mu-bar)", flux, efficiency),
             ("AFH's decay volume", like, flux))
    agreement = kaon_reference.agreement(like, table)
    compared = (float(agreement.mass_mev.min()), float(agreement.mass_mev.max()))
    result = ValidationCurves(
        nd280_2019=nd280,
        t2k_full=nd280.rescaled(kaon.POT_T2K_FULL_FHC),
        afh_exposure=exposure,
        like_for_like=like,
        afh_nd280_2019=table,
        afh_file=stored,
        agreement=agreement,
        analysis_agreement=kaon_reference.agreement(exposure, table),
        file_agreement=kaon_reference.agreement(_as_limit(stored), table),
        factors=tuple(Factor(name, _median_ratio(new, old, compared))
                      for name, new, old in chain),
    )
    logger.info(
        "like for like / AFH ND280: median %.3f (%.3f-%.3f); analysis at AFH's exposure: "
        "median %.3f",
        result.agreement.median_ratio, result.agreement.ratio.min(),
        result.agreement.ratio.max(), result.analysis_agreement.median_ratio,
    )
    return result


__all__ = ["TARGET", "Factor", "ValidationCurves", "curves"]
