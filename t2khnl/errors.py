"""Exceptions raised by t2khnl; the CLI turns them into one-line messages.

Usage errors (exit code 2): :class:`InputError` and its subclasses
(:class:`ConfigurationError`, :class:`InputFileError` for a file the user names,
:class:`ClusterError`) and :class:`MissingDependencyError` (install an extra). Failures
(exit code 1): :class:`DataFileError` (the input data), :class:`ComputationError`,
:class:`ScanError`. :func:`exit_code` maps an error to its code.
"""

from __future__ import annotations

#: Exit code of a usage error (bad argument, bad preset).
USAGE_EXIT = 2
#: Exit code of a failure (input data file, computation, scan folder).
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


class InputFileError(InputError, DataFileError):
    """A file the user names (an ntuple to export, an output to write) is unusable."""


class ComputationError(T2KHNLError, RuntimeError):
    """A computation cannot go on (non-finite values, an inconsistent internal state)."""


class ScanError(T2KHNLError, RuntimeError):
    """A scan failed: its folder cannot be used or a mass cannot be analysed."""


class MissingDependencyError(T2KHNLError, ImportError):
    """An optional dependency a command needs is not installed (the message says how)."""


class HEPDataError(T2KHNLError, ValueError):
    """A HEPData submission cannot be made: inconsistent inputs (contours, likelihoods) or a
    submission HEPData's validator rejects."""


def exit_code(err: T2KHNLError) -> int:
    """The CLI's exit code for an error: 2 for usage errors, 1 for failures.

    >>> exit_code(InputError("bad mass"))
    2
    >>> exit_code(ConfigurationError("bad preset"))
    2
    >>> exit_code(InputFileError("ntuple written by an older t2khnl"))
    2
    >>> exit_code(DataFileError("flux file missing"))
    1
    >>> exit_code(ComputationError("NaN"))
    1
    >>> exit_code(MissingDependencyError("pip install 't2khnl[nuhepmc]'"))
    2
    """
    usage = isinstance(err, InputError | MissingDependencyError)
    return USAGE_EXIT if usage else FAILURE_EXIT

