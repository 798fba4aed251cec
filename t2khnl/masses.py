"""The masses of a scan: parsed from the command line, rounded, and named as folders."""

from __future__ import annotations

import math
import re

import numpy as np

from .errors import InputError

#: Significant digits masses are rounded to (so that they name folders unambiguously).
MASS_DIGITS = 6

_SPEC = re.compile(r"^\s*([^:]+):([^:]+):\s*(\d+)\s*(log|lin)\s*$")


def parse_masses(spec: str) -> list[float]:
    """Masses [GeV] from ``lo:hi:Nlog``, ``lo:hi:Nlin`` or a comma-separated list.

    ``lo:hi:Nlog`` gives N masses evenly spaced in log between lo and hi (both included),
    ``Nlin`` evenly spaced in mass. Masses are rounded to 6 significant digits, sorted and
    must be distinct.

    Args:
        spec: the mass specification [GeV], e.g. ``"0.01:2.0:48log"`` or ``"0.1,0.3,0.5"``.

    Returns:
        The sorted masses [GeV].

    Raises:
        InputError: unparsable, empty or reversed range, non-positive or duplicate masses.

    Example:
        >>> parse_masses("0.5, 0.1,0.3")
        [0.1, 0.3, 0.5]
        >>> parse_masses("0.01:1:3log")
        [0.01, 0.1, 1.0]
        >>> parse_masses("0.1:0.5:3lin")
        [0.1, 0.3, 0.5]
        >>> parse_masses("0.1,-0.2")
        Traceback (most recent call last):
        ...
        t2khnl.errors.InputError: masses must be positive [GeV], got '0.1,-0.2'
    """
    text = spec.strip()
    match = _SPEC.match(text)
    if match:
        lo, hi = (_number(match.group(i), spec) for i in (1, 2))
        n, kind = int(match.group(3)), match.group(4)
        if n < 1:
            msg = f"mass range {spec!r} is empty: it asks for {n} masses"
            raise InputError(msg)
        if not (lo > 0 and hi > 0):
            msg = f"mass range {spec!r} must have positive ends [GeV]"
            raise InputError(msg)
        if hi < lo or (hi == lo and n > 1):
            msg = f"mass range {spec!r} is reversed or empty: lo must be below hi"
            raise InputError(msg)
        values = np.geomspace(lo, hi, n) if kind == "log" else np.linspace(lo, hi, n)
        masses = [float(v) for v in values]
    elif ":" in text:
        msg = f"cannot parse mass range {spec!r}: expected lo:hi:Nlog, lo:hi:Nlin or a list"
        raise InputError(msg)
    else:
        masses = [_number(part, spec) for part in text.split(",") if part.strip()]
        if not masses:
            msg = f"mass list {spec!r} is empty"
            raise InputError(msg)
        if any(not m > 0 for m in masses):
            msg = f"masses must be positive [GeV], got {spec!r}"
            raise InputError(msg)
    rounded = sorted(float(f"{m:.{MASS_DIGITS}g}") for m in masses)
    labels = [mass_label(m) for m in rounded]
    for a, b, la, lb in zip(rounded, rounded[1:], labels, labels[1:], strict=False):
        if la == lb:
            msg = f"masses {a:g} and {b:g} GeV are the same to 1e-6 GeV; give distinct masses"
            raise InputError(msg)
    return rounded


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        msg = f"cannot parse mass {text.strip()!r} in {spec!r}"
        raise InputError(msg) from err
    if not math.isfinite(value):
        msg = f"mass {text.strip()!r} in {spec!r} is not finite"
        raise InputError(msg)
    return value


def mass_label(mass_gev: float) -> str:
    """Folder / file stem of a mass: ``m`` + the mass [GeV] as ``000.000000`` (sortable).

    Example:
        >>> mass_label(0.47)
        'm000.470000'
    """
    return f"m{mass_gev:010.6f}"


__all__ = ["MASS_DIGITS", "mass_label", "parse_masses"]
