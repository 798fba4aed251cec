"""t2khnl: dipole-portal heavy neutral leptons in T2K's ND280 and its upgrade."""

from typing import Any

from ._version import __version__

__all__ = ["__version__", "simulate"]


def __getattr__(name: str) -> Any:
    """Import the SIREN-backed generator only when it is used."""
    if name == "simulate":
        from .generate import simulate

        return simulate
    msg = f"module 't2khnl' has no attribute {name!r}"
    raise AttributeError(msg)
