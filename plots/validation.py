"""Suppl. Fig. 1 of arXiv:2412.15051: kaon-decay HNLs at ND280, this work versus AFH.

|U_muN|² versus m_N [MeV], log-log, 90% CL, zero background, mu_tr = 1e-6 GeV^-1
(:mod:`t2khnl.kaon` has the physics and the conventions):

* this work, ND280 2019 (12.34e20 POT FHC) and T2K + T2K-II (FHC share of 2e22 POT, events
  ∝ POT);
* this work with AFH's exposure convention (FHC kaon flux x 18.63e20 POT), the curve compared;
* AFH's curves: the validation file (their "T2K full") and their ND280 2019 limit recovered
  from it (x √10.7);
* a text box with the agreement metric: ours (AFH convention) / AFH ND280 2019, median and
  maximum |log10| over the common mass range.

```python
from t2khnl.plots import constraints, validation

fig = validation.plot(validation.curves())
constraints.save(fig, "suppl_fig1")   # suppl_fig1.pdf and .png
```
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from t2khnl import kaon
from t2khnl.plots.constraints import log_log_axes, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MASS_RANGE_MEV", "U2_RANGE", "ValidationCurves", "curves", "plot"]

logger = logging.getLogger(__name__)

MASS_RANGE_MEV: tuple[float, float] = (10.0, 400.0)
"""x range [MeV]."""
U2_RANGE: tuple[float, float] = (1.0e-14, 1.0e-2)
"""y range (|U_muN|²)."""


class ValidationCurves(NamedTuple):
    """Everything Suppl. Fig. 1 draws.

    Attributes:
        nd280_2019: this work, ND280 2019, :data:`t2khnl.kaon.POT_ND280_2019_FHC`.
        t2k_full: this work, T2K + T2K-II, :data:`t2khnl.kaon.POT_T2K_FULL_FHC`.
        afh_convention: this work with AFH's exposure, :data:`t2khnl.kaon.POT_AFH_ND280`.
        afh_t2k_full: AFH's "T2K full" curve (the validation file as stored).
        afh_nd280_2019: AFH's ND280 2019 limit (the file x √10.7).
        agreement: ``afh_convention`` over ``afh_nd280_2019``.
    """

    nd280_2019: kaon.LimitCurve
    t2k_full: kaon.LimitCurve
    afh_convention: kaon.LimitCurve
    afh_t2k_full: kaon.AFHCurve
    afh_nd280_2019: kaon.AFHCurve
    agreement: kaon.Agreement


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
        data_dir: the input-data folder (kaon flux, efficiency table, AFH curve).
        kinematics: HNL momentum from the neutrino energy (:func:`t2khnl.kaon.hnl_spectrum`).
        opening_angle_max_deg: e+e- opening-angle cut [deg], or ``None`` (as AFH).

    Returns:
        The curves and the agreement metric.
    """
    nd280 = kaon.limit_curve(
        masses_gev,
        pot=kaon.POT_ND280_2019_FHC,
        kinematics=kinematics,
        opening_angle_max_deg=opening_angle_max_deg,
        data_dir=data_dir,
    )
    afh_convention = nd280.rescaled(kaon.POT_AFH_ND280)
    afh_nd280 = kaon.read_afh(data_dir, exposure="nd280_2019")
    result = ValidationCurves(
        nd280_2019=nd280,
        t2k_full=nd280.rescaled(kaon.POT_T2K_FULL_FHC),
        afh_convention=afh_convention,
        afh_t2k_full=kaon.read_afh(data_dir),
        afh_nd280_2019=afh_nd280,
        agreement=kaon.agreement(afh_convention, afh_nd280),
    )
    logger.info(
        "ours (AFH convention) / AFH ND280 2019: median %.3f, max |log10| %.3f",
        result.agreement.median_ratio,
        result.agreement.max_abs_log10,
    )
    return result


def _visible(curve: kaon.LimitCurve) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Masses [MeV] and limits of a curve where the limit is finite."""
    finite = np.isfinite(curve.u2)
    return curve.mass_gev[finite] * 1e3, curve.u2[finite]


def plot(c: ValidationCurves, *, ax: Axes | None = None) -> Figure:
    """Draw Suppl. Fig. 1: our kaon-decay HNL limits at ND280 against AFH's.

    Args:
        c: the curves and their agreement, from :func:`curves`.
        ax: axes to draw on; a new figure otherwise.

    Returns:
        The figure (save it with :func:`t2khnl.plots.constraints.save`).
    """
    ag = c.agreement
    with style():
        fig, ax = log_log_axes(ax, figsize=(10, 8))
        ax.plot(
            c.afh_t2k_full.mass_mev,
            c.afh_t2k_full.u2,
            color="k",
            label="AFH, T2K full (validation file; ND280 / √10.7)",
        )
        ax.plot(
            c.afh_nd280_2019.mass_mev,
            c.afh_nd280_2019.u2,
            color="k",
            linestyle="--",
            label=r"AFH, ND280 2019 ($18.63\times10^{20}$ POT; file × √10.7)",
        )
        ax.plot(
            *_visible(c.afh_convention),
            color="#C0392B",
            linestyle=":",
            linewidth=2.5,
            label=r"this work, AFH's exposure ($18.63\times10^{20}$ POT on the FHC flux)",
        )
        ax.plot(
            *_visible(c.nd280_2019),
            color="#1F4E9C",
            label=r"this work, ND280 2019 ($12.34\times10^{20}$ POT FHC)",
        )
        ax.plot(
            *_visible(c.t2k_full),
            color="#1F4E9C",
            linestyle="--",
            label=rf"this work, T2K + T2K-II (${kaon.POT_T2K_FULL_FHC / 1e22:.3g}"
            r"\times10^{22}$ POT FHC, zero bkg)",
        )
        low, high = ag.mass_mev.min(), ag.mass_mev.max()
        ax.text(
            0.97,
            0.03,
            "this work (AFH's exposure) / AFH ND280 2019,\n"
            f"{low:.0f}-{high:.0f} MeV: median {ag.median_ratio:.2f}, "
            f"max |log$_{{10}}$| {ag.max_abs_log10:.2f} (x{10**ag.max_abs_log10:.2f})",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize="x-small",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85},
        )
        ax.set_xlim(*MASS_RANGE_MEV)
        ax.set_ylim(*U2_RANGE)
        ax.set_xlabel(r"$m_N$ [MeV]")
        ax.set_ylabel(r"$|U_{\mu N}|^2$")
        ax.set_title(
            r"$K \to \mu N$, $\mu_{\rm tr} = 10^{-6}$ GeV$^{-1}$, 90% CL, zero background",
            fontsize="small",
        )
        ax.legend(loc="upper center", fontsize="x-small", frameon=False)
    return fig
