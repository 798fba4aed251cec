"""Exceptions raised by t2khnl; the CLI turns them into one-line messages."""


class T2KHNLError(Exception):
    """Base class of every error t2khnl reports to the user."""


class InputError(T2KHNLError, ValueError):
    """A user-supplied argument (detector, beam, mass, coupling, ...) is invalid."""


class DataFileError(T2KHNLError, OSError):
    """An input data file is missing, unreadable or does not match its manifest."""


class MissingDependencyError(T2KHNLError, ImportError):
    """An optional dependency a command needs is not installed (the message says how)."""


class ClusterError(InputError):
    """The Dask cluster given cannot run t2khnl's tasks (e.g. a worker with several threads)."""


class HEPDataError(T2KHNLError, ValueError):
    """A HEPData submission cannot be made: inconsistent inputs (contours, likelihoods) or a
    submission HEPData's validator rejects."""
