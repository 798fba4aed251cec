"""t2khnl: dipole-portal heavy neutral leptons in T2K's ND280 and its upgrade."""

from ._version import __version__

__all__ = ["__version__"]
