"""Figures of the analysis (``t2khnl.plots``); needs the ``plot`` extra (matplotlib, mplhep).

:mod:`t2khnl.plots.constraints` draws Fig. 4 of arXiv:2412.15051 (the (m_N, d_muN) plane)
and gives the envelope of the existing limits.
"""
