"""Suppl. Fig. 1 of arXiv:2412.15051: kaon-decay HNLs at ND280, this work versus AFH.

:func:`plot` draws |U_muN|² versus m_N [MeV], log-log, 90% CL, zero background,
mu_tr = 1e-6 GeV^-1: AFH's ND280 limit, this work like for like and with the analysis's
assumptions (ND280 2019 and T2K + T2K-II), a ratio panel over AFH, and under the panels the
factor each of AFH's assumptions contributes (:func:`caption`). The curves come from
:func:`t2khnl.kaon_validation.curves`; this module only draws them::

    fig = validation.plot(kaon_validation.curves())
    style.save(fig, "suppl_fig1")   # suppl_fig1.pdf and .png

Details: plots/README.md ("Suppl. Fig. 1"), docs/kaon.md.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from t2khnl import kaon, kaon_reference
from t2khnl.kaon_validation import TARGET, ValidationCurves
from t2khnl.plots.style import FONT, corner_label, style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MASS_RANGE_MEV", "RATIO_RANGE", "caption", "plot"]

logger = logging.getLogger(__name__)

MASS_RANGE_MEV: tuple[float, float] = (10.0, 400.0)
"""x range [MeV]."""
RATIO_RANGE: tuple[float, float] = (0.6, 2.6)
"""y range of the ratio panel (the top part holds its legend)."""
U2_DRAWN_MAX: float = 1e-4
"""Curves are drawn up to this |U_muN|², the top of AFH's table grid; the band above holds
the legend."""

_AFH_COLOUR, _LIKE_COLOUR, _OURS_COLOUR, _FILE_COLOUR = "k", "#C0392B", "#1F4E9C", "0.55"


def _visible(curve: kaon.LimitCurve | kaon_reference.AFHCurve,
             ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Masses [MeV] and limits of a curve where the limit is at most :data:`U2_DRAWN_MAX`
    (the wall is cut at the first mass above it)."""
    mass_mev = (curve.mass_mev if isinstance(curve, kaon_reference.AFHCurve)
                else curve.mass_gev * 1e3)
    above = np.flatnonzero(~(curve.u2 <= U2_DRAWN_MAX) & (mass_mev > 100.0))
    stop = above[0] + 1 if above.size else mass_mev.size
    shown = np.isfinite(curve.u2[:stop])
    return mass_mev[:stop][shown], np.minimum(curve.u2[:stop][shown], 10 * U2_DRAWN_MAX)


def caption(c: ValidationCurves) -> str:
    """The factors and agreement in words (drawn under the panels)."""
    chain = "; ".join(f"{f.name} ×{f.median_ratio:.3f}" for f in c.factors)
    low, high = c.agreement.mass_mev.min(), c.agreement.mass_mev.max()
    return (
        "Like for like: AFH's efficiency, FHC kaon fluxes (nu_mu + nu_mu-bar), exposure "
        "(18.63e20 POT on the FHC flux) and decay volume. Every curve uses FHC kaon fluxes.\n"
        f"This work's ND280 2019 limit → like for like, median factors at {low:.0f}–"
        f"{high:.0f} MeV: {chain}.\n"
        f"Like for like / AFH's ND280 table: median "
        f"{c.agreement.median_ratio:.3f} ({c.agreement.ratio.min():.3f}–"
        f"{c.agreement.ratio.max():.3f}); left: numerical (integration grids, "
        "the flux tables' interpolation), <1%. With the analysis's assumptions at AFH's "
        f"POT: {c.analysis_agreement.median_ratio:.2f} ({c.analysis_agreement.ratio.min():.2f}"
        f"–{c.analysis_agreement.ratio.max():.2f}).\n"
        f"AFH's stored T2K-full file × √10.7 / their table: median "
        f"{c.file_agreement.median_ratio:.2f} ({c.file_agreement.ratio.min():.2f}–"
        f"{c.file_agreement.ratio.max():.2f}, digitisation)."
    )


def plot(c: ValidationCurves, *, demo: str | None = None) -> Figure:
    """Draw Suppl. Fig. 1: our kaon-decay HNL limits at ND280 against AFH's, with a ratio
    panel and the factors of AFH's assumptions stated under it.

    Args:
        c: the curves and their agreement, from :func:`t2khnl.kaon_validation.curves`.
        demo: the demo statement of a coarse run's figure set (None: a full run).

    Returns:
        The figure (save it with :func:`t2khnl.plots.style.save`).
    """
    import matplotlib.pyplot as plt

    with style():
        fig, (top, bottom) = plt.subplots(
            2, 1, sharex=True, figsize=(10, 10), gridspec_kw={"height_ratios": [3, 1.4],
                                                             "hspace": 0.05})
        top.set_xscale("log")
        top.set_yscale("log")
        top.plot(*_visible(c.afh_nd280_2019), color=_AFH_COLOUR, lw=2.5,
                 label=r"AFH, ND280, $18.63\times10^{20}$ POT (their table)")
        top.plot(*_visible(c.like_for_like), color=_LIKE_COLOUR, ls="--", lw=2,
                 label="this work, like for like")
        top.plot(*_visible(c.nd280_2019), color=_OURS_COLOUR, lw=2,
                 label=r"this work, ND280 2019, $12.34\times10^{20}$ POT")
        top.plot(*_visible(c.t2k_full), color=_OURS_COLOUR, ls="-.", lw=2,
                 label=rf"this work, T2K + T2K-II, ${kaon.POT_T2K_FULL_FHC / 1e22:.3g}"
                 r"\times10^{22}$ POT")
        drawn = np.concatenate([c.afh_nd280_2019.u2, _visible(c.t2k_full)[1],
                                _visible(c.nd280_2019)[1]])
        top.set_ylim(drawn.min() / 3, 1000 * U2_DRAWN_MAX)
        top.set_xlim(*MASS_RANGE_MEV)
        top.set_ylabel(r"$|U_{\mu N}|^2$")
        top.legend(loc="upper left", fontsize=FONT.note, frameon=False)

        _ratio_panel(bottom, c)
        fig.text(0.12, 0.005, caption(c), ha="left", va="top", fontsize=FONT.note, wrap=True)
        corner_label(top, rlabel=r"$K\to\mu N$, $\mu_{\rm tr}=10^{-6}$ GeV$^{-1}$, 90% CL",
                     demo=demo)
    return fig


def _ratio_panel(ax: Axes, c: ValidationCurves) -> None:
    """This work / AFH's table, the file's digitisation and the ±20% target band."""
    ax.axhspan(1 - TARGET, 1 + TARGET, color="0.9", zorder=0, label=r"$\pm20\%$")
    ax.axhline(1.0, color=_AFH_COLOUR, lw=1)
    for ag, colour, ls, name in (
            (c.agreement, _LIKE_COLOUR, "--", "like for like"),
            (c.analysis_agreement, _OURS_COLOUR, "-", "analysis at AFH's POT"),
            (c.file_agreement, _FILE_COLOUR, ":", "AFH file × √10.7")):
        ax.plot(ag.mass_mev, ag.ratio, color=colour, ls=ls, lw=2,
                label=f"{name} ({ag.median_ratio:.2f})")
    ax.set_ylim(*RATIO_RANGE)
    ax.set_xlabel(r"$m_N$ [MeV]")
    ax.set_ylabel("this work / AFH")
    ax.legend(loc="upper center", fontsize=FONT.note, frameon=False, ncol=2)
