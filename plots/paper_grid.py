"""The paper's coarse-grid contour against our smooth one (issue 14, part 3): the figure.

For each detector, three lower edges of the 95% CL region in (m_N, d) (top: ours from the
d scans, ours contoured on the authors' grid their way, the paper's) and each of ours over
the paper's (bottom). ``t2khnl validate paper-grid`` computes what it draws
(:func:`t2khnl.paper_grid.panels`) and writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from t2khnl.plots.style import COLUMN_WIDTH_IN, corner_label, style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from t2khnl.paper_grid import Panel

#: Label and colour of each of our curves (the keys of :attr:`t2khnl.paper_grid.Panel.ratios`).
CURVES = {"grid": ("ours, their grid", "tab:orange"), "scan": ("ours, d scan", "tab:blue")}


def plot(panels: Mapping[str, Panel]) -> Figure:
    """One column per detector: the three lower edges (top) and each of ours over the
    paper's (bottom).

    Args:
        panels: what to draw of each detector (:func:`t2khnl.paper_grid.panels`).
    """
    import matplotlib.pyplot as plt

    with style():
        fig, axes = plt.subplots(2, len(panels), figsize=(COLUMN_WIDTH_IN * len(panels),
                                                          COLUMN_WIDTH_IN * 1.15),
                                 sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": (2.2, 1)})
        for col, panel in enumerate(panels.values()):
            top, bottom = axes[0, col], axes[1, col]
            paper_m, paper_d = panel.paper
            top.plot(paper_m * 1e3, paper_d, color="black", lw=1.6, label="paper")
            for k, line in enumerate(panel.grid_lines):
                top.plot(line[:, 0] * 1e3, line[:, 1], color=CURVES["grid"][1], lw=1.3, ls="--",
                         label=CURVES["grid"][0] if k == 0 else None)
            mm, dd = np.meshgrid(panel.grid_masses_gev, panel.grid_d_gev_inv)
            top.scatter(mm.ravel() * 1e3, dd.ravel(), s=4, color="0.6", zorder=0,
                        label="their grid")
            if panel.smooth is not None:
                top.plot(panel.smooth[0] * 1e3, panel.smooth[1], color=CURVES["scan"][1],
                         lw=1.3, label=CURVES["scan"][0])
            for curve, ratio in panel.ratios.items():
                bottom.plot(panel.ratio_masses_gev * 1e3, ratio, color=CURVES[curve][1],
                            lw=1.2)
            bottom.axhline(1.0, color="black", lw=0.8)
            top.set(xscale="log", yscale="log", ylim=(2e-8, 6e-6))
            top.set_ylabel(r"$d_{\mu N}$ [GeV$^{-1}$]")
            bottom.set(xscale="log", ylim=(0.3, 2.5), xlabel=r"$m_N$ [MeV]",
                       ylabel="ours / paper")
            top.legend(loc="upper left", fontsize="small", title=panel.label)
            corner_label(top, rlabel="95% CL, published preset", left=col == 0)
        fig.align_ylabels()
    return fig
