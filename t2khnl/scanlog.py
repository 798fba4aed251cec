"""A scan's logs: ``scan.log`` for the whole scan and ``run.log`` in each mass's folder."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

_FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


@contextlib.contextmanager
def scan_log(path: Path, scan_logger: logging.Logger) -> Iterator[None]:
    """Log a scan into ``path``: ``scan_logger`` at INFO, the rest of t2khnl as configured.

    With several scans at once, a record carrying ``extra={"scan_dir": folder}`` goes only
    to the log of the scan in ``folder`` (``path``'s parent). When the user did not ask for
    INFO records, the scan's stay off the console.
    """
    out = path.parent
    handler = _file_handler(path, "a")
    handler.addFilter(lambda record: getattr(record, "scan_dir", out) == out)
    previous = scan_logger.level
    quiet: _ConsoleQuiet | None = None
    if scan_logger.getEffectiveLevel() > logging.INFO:
        scan_logger.setLevel(logging.INFO)
        quiet = _ConsoleQuiet(scan_logger.name)
        for h in logging.getLogger().handlers:
            h.addFilter(quiet)
    try:
        with _logging_to(handler):
            yield
    finally:
        scan_logger.setLevel(previous)
        if quiet is not None:
            for h in logging.getLogger().handlers:
                h.removeFilter(quiet)


@contextlib.contextmanager
def mass_log(path: Path) -> Iterator[None]:
    """Log everything t2khnl logs into ``path`` (a mass's ``run.log``, rewritten)."""
    with _logging_to(_file_handler(path, "w")):
        yield


def _file_handler(path: Path, mode: str) -> logging.FileHandler:
    handler = logging.FileHandler(path, mode=mode)
    handler.setFormatter(logging.Formatter(_FORMAT))
    return handler


@contextlib.contextmanager
def _logging_to(handler: logging.Handler) -> Iterator[None]:
    """Send t2khnl's log records to ``handler`` while the block runs, then close it."""
    package_log = logging.getLogger("t2khnl")
    package_log.addHandler(handler)
    try:
        yield
    finally:
        package_log.removeHandler(handler)
        handler.close()


class _ConsoleQuiet(logging.Filter):
    """Keep one logger's INFO records off the console when the user did not ask for them."""

    def __init__(self, logger_name: str) -> None:
        super().__init__()
        self.logger_name = logger_name

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == self.logger_name and record.levelno < logging.WARNING)


__all__ = ["mass_log", "scan_log"]
