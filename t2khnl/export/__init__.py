"""Events for detector simulations: an ntuple as NuHepMC, GENIE rooTracker or HEPEVT.

:func:`export` checks every input before it touches the disk (format, event count,
exposure, offset, output folder, the format's optional dependency, the ntuple and its
branches), then writes the whole file under a temporary name beside the target and renames
it, so a failure leaves nothing behind. The modules: :mod:`.records` (the particles of each
event), :mod:`.sample` (weighted or unweighted choice, normalisation, header),
:mod:`.nuhepmc`, :mod:`.rootracker`, :mod:`.hepevt` (the writers).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from .. import config, files, ntuple
from ..errors import InputError
from . import hepevt, nuhepmc, rootracker
from .sample import ExportSample, Normalisation, check_offset, check_pot, check_unweighted, choose

log = logging.getLogger(__name__)


class Format(NamedTuple):
    """An output format: the check of its optional dependency, and its writer."""

    require: Callable[[], object]
    write: Callable[[Path, ExportSample], None]


def _nothing() -> None:
    """HEPEVT is plain text: nothing to import."""


FORMATS = {
    "nuhepmc": Format(nuhepmc.require, nuhepmc.write),
    "rootracker": Format(rootracker.require, rootracker.write),
    "hepevt": Format(_nothing, hepevt.write),
}


class ExportResult(NamedTuple):
    """What :func:`export` wrote.

    Attributes:
        path: the file.
        format: its format.
        n_events: events written.
        normalisation: exposure and expected counts (the header's).
    """

    path: Path
    format: str
    n_events: int
    normalisation: Normalisation


def export(input_path: str | os.PathLike[str], fmt: str, output: str | os.PathLike[str], *,
           unweighted: int | None = None, seed: int = 1, pot: float | None = None,
           offset_m: Sequence[float] | str = (0.0, 0.0, 0.0)) -> ExportResult:
    """Write the events of an ntuple for a detector simulation.

    Args:
        input_path: the ntuple (:func:`t2khnl.ntuple.write`, with the event-record
            branches).
        fmt: ``"nuhepmc"``, ``"rootracker"`` or ``"hepevt"``.
        output: the file to write.
        unweighted: draw this many events with probability proportional to their weight
            (default: every event with its own weight).
        seed: seed of the unweighted draw.
        pot: exposure the weights and the header's expected count refer to [POT] (default:
            the ntuple's nominal exposure).
        offset_m: (x, y, z) [m] added to every position, or ``"x,y,z"`` (default: none,
            SIREN's ND280 frame).

    Returns:
        What was written.

    Raises:
        InputError: a bad argument, or an output that would replace the input.
        InputFileError: an unreadable ntuple, or one without the event-record branches.
        MissingDependencyError: the format's optional dependency is not installed.
    """
    fmt = config.check_choice("format", fmt, tuple(FORMATS))
    check_unweighted(unweighted)
    if pot is not None:
        check_pot(pot)
    check_offset(offset_m)
    target = ntuple.check_writable(output)
    if target == Path(input_path).expanduser().resolve():
        msg = f"--output {target} is the input ntuple: choose another file"
        raise InputError(msg)
    FORMATS[fmt].require()
    events, metadata = ntuple.read(input_path)
    sample = choose(events, metadata, source=Path(input_path).name, pot=pot,
                    unweighted=unweighted, seed=seed, offset_m=offset_m)
    with files.atomic_path(target) as tmp:
        FORMATS[fmt].write(tmp, sample)
    log.info("wrote %d events to %s (%s)", sample.weight.size, target, fmt)
    return ExportResult(target, fmt, int(sample.weight.size), sample.normalisation)
