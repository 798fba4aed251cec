"""ROOT ntuples: the ``events`` TTree and its JSON metadata, written atomically with uproot."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import awkward as ak
import numpy as np
import uproot

from . import files
from .errors import InputError, InputFileError

if TYPE_CHECKING:
    from .samples import SampleMetadata

log = logging.getLogger(__name__)

TREE = "events"
METADATA = "metadata"


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail early, before any simulation, when ``path`` cannot be written.

    Args:
        path: the output file.

    Returns:
        The resolved path.

    Raises:
        InputError: the folder does not exist or is not writable, or ``path`` is a folder.
    """
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        msg = f"output path {target} is a folder, expected a file name"
        raise InputError(msg)
    folder = target.parent
    if not folder.is_dir():
        msg = f"cannot write {target}: folder {folder} does not exist"
        raise InputError(msg)
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".t2khnl-probe-"):
            pass
    except OSError as err:
        msg = f"cannot write {target}: {err.strerror}"
        raise InputError(msg) from err
    return target


def write(path: str | os.PathLike[str], events: ak.Array,
          metadata: Mapping[str, object]) -> Path:
    """Write events and metadata to a ROOT file, atomically and byte-reproducibly
    (:func:`t2khnl.files.write_root`): the same events and metadata give the same bytes.

    Args:
        path: output ``.root`` file.
        events: flat record array; each field becomes a branch (fixed-size inner
            dimensions become fixed-size array branches).
        metadata: JSON-serialisable run description (:class:`t2khnl.samples.SampleMetadata`),
            stored as a TObjString.

    Returns:
        The path written.
    """
    target = check_writable(path)
    branches = {name: ak.to_numpy(events[name]) for name in events.fields}
    files.write_root(target, {METADATA: json.dumps(metadata, sort_keys=True)},
                     {TREE: branches} if branches else None)
    log.info("wrote %d events to %s", len(events), target)
    return target


def read(path: str | os.PathLike[str]) -> tuple[ak.Array, SampleMetadata]:
    """Read an ntuple written by :func:`write`.

    Args:
        path: the ``.root`` file.

    Returns:
        The events and the metadata (:class:`t2khnl.samples.SampleMetadata`, as written).

    Raises:
        InputFileError: the file is missing, truncated, corrupt or not a t2khnl ntuple.
    """
    source = Path(path)
    if not source.is_file():
        msg = f"ntuple {source} does not exist"
        raise InputFileError(msg)
    try:
        with uproot.open(source) as file:
            size, end = source.stat().st_size, file.file.fEND
            if size < end:
                msg = f"{source} is truncated: {size} bytes, its ROOT header says {end}"
                raise InputFileError(msg)
            if METADATA not in file or TREE not in file:
                msg = f"{source} is not a t2khnl ntuple (needs '{TREE}' and '{METADATA}')"
                raise InputFileError(msg)
            metadata: SampleMetadata = json.loads(str(file[METADATA]))
            events = file[TREE].arrays(library="ak")
    except InputFileError:
        raise
    except Exception as err:
        why = " ".join(str(err).split())  # uproot's messages span several lines
        msg = f"cannot read ntuple {source}: {type(err).__name__}: {why}"
        raise InputFileError(msg) from err
    n_expected = metadata.get("n_events")
    if n_expected is not None and len(events) != n_expected:
        msg = f"{source} holds {len(events)} events, its metadata says {n_expected}"
        raise InputFileError(msg)
    if "weight" not in events.fields:
        msg = f"{source} is not a t2khnl ntuple: its '{TREE}' tree has no 'weight' branch"
        raise InputFileError(msg)
    if len(events) and not np.isfinite(ak.to_numpy(events["weight"])).all():
        msg = f"{source} has non-finite weights"
        raise InputFileError(msg)
    return events, metadata
