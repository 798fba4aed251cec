"""Figures of the analysis (``t2khnl.plots``); needs the ``plot`` extra (matplotlib, mplhep).

Figures of arXiv:2412.15051, one module each:

* :mod:`t2khnl.plots.vertices` -- Fig. 2, upscattering-vertex maps with detector outlines;
* :mod:`t2khnl.plots.decay_length` -- Fig. 3, median lab-frame decay length over (m_N, d);
* :mod:`t2khnl.plots.constraints` -- Fig. 4, the (m_N, d_muN) plane, and the envelope of the
  existing limits;
* :mod:`t2khnl.plots.validation` -- Suppl. Fig. 1, the kaon-decay validation against AFH.
"""
