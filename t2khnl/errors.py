"""Exceptions raised by t2khnl; the CLI turns them into one-line messages.

Usage errors (exit code 2): :class:`InputError` and its subclasses
:class:`ConfigurationError` and :class:`ClusterError`. Failures (exit code 1):
:class:`DataFileError`, :class:`ComputationError`, :class:`ScanError` and
:class:`MissingDependencyError`. :func:`exit_code` maps an error to its code.
"""

from __future__ import annotations

#: Exit code of a usage error (bad argument, bad preset).
USAGE_EXIT = 2
#: Exit code of a failure (data file, computation, scan folder, missing dependency).
FAILURE_EXIT = 1


class T2KHNLError(Exception):
    """Base class of every error t2khnl reports to the user."""


class InputError(T2KHNLError, ValueError):
    """A user-supplied argument (detector, beam, mass, coupling, ...) is invalid."""


class ConfigurationError(InputError):
    """A preset or selection configuration is invalid (schema or semantic check)."""


class ClusterError(InputError):
    """The Dask cluster given cannot run t2khnl's tasks (e.g. a worker with several threads)."""


class DataFileError(T2KHNLError, OSError):
    """An input data file is missing, unreadable or does not match its manifest."""


class ComputationError(T2KHNLError, RuntimeError):
    """A computation cannot go on (non-finite values, an inconsistent internal state)."""


class ScanError(T2KHNLError, RuntimeError):
    """A scan failed: its folder cannot be used or a mass cannot be analysed."""


class MissingDependencyError(T2KHNLError, ImportError):
    """An optional dependency a command needs is not installed (the message says how)."""


def exit_code(err: T2KHNLError) -> int:
    """The CLI's exit code for an error: 2 for usage errors, 1 for failures.

    >>> exit_code(InputError("bad mass"))
    2
    >>> exit_code(ConfigurationError("bad preset"))
    2
    >>> exit_code(DataFileError("flux file missing"))
    1
    >>> exit_code(ComputationError("NaN"))
    1
    """
    return USAGE_EXIT if isinstance(err, InputError) else FAILURE_EXIT

