"""Output files: written atomically, with the mode the umask gives, ROOT files byte-reproducible.

Every file t2khnl writes goes through this module. A file is written under a temporary name
in its own folder and renamed over the target only when complete, so a crash or Ctrl-C
leaves the old file or none, never half of one. ``tempfile.mkstemp`` creates its files with
mode 0600 whatever the umask; they are given ``0666 & ~umask`` (0644 under the usual umask
022) before the rename, as ``open()`` would have, so collaborators on a shared disk can
read the results when the umask lets them.

ROOT files (:func:`write_root`): uproot stamps a file with the time of writing (``fDatime``
of every key, ``fDatimeC``/``fDatimeM`` of every directory) and a random ``uuid.uuid1()``
(file and directory ``fUUID``), and records the file name. Here the time stamps are
:data:`ROOT_TIMESTAMP`, the UUID is derived from a digest of the content, and the file is
written under its final name in a temporary folder: the same content gives the same bytes,
so ``cmp`` or a checksum confirms a rerun with the same inputs and seed.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: The time stamp written into every ROOT file [local time, as ROOT's TDatime]: the start of
#: TDatime's range. ROOT files of t2khnl carry no time of writing (their metadata say what
#: made them), so a rerun gives the same bytes.
ROOT_TIMESTAMP = datetime.datetime(1995, 1, 1)

_UMASK_LOCK = threading.Lock()
_ROOT_LOCK = threading.Lock()


def umask() -> int:
    """The process's umask (read without changing it where Linux exposes it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore (not thread-safe, hence the lock)
        current = os.umask(0o022)
        os.umask(current)
    return current


def file_mode() -> int:
    """Mode of a new file under the current umask: ``0o666 & ~umask``."""
    return 0o666 & ~umask()


def folder_mode() -> int:
    """Mode of a new folder under the current umask: ``0o777 & ~umask``."""
    return 0o777 & ~umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` on success.

    On success the temporary file gets :func:`file_mode` and replaces ``path`` (an existing
    file is replaced whole); on any exception it is removed and ``path`` is left as it was.

    Args:
        path: the file to write.

    Yields:
        The temporary file's path (it exists, empty).
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`), flushed to the disk.

    Returns:
        The path written.
    """
    with atomic_path(path) as tmp, open(tmp, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return Path(path)


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically.

    Returns:
        The path written.
    """
    return write_bytes(path, text.encode("utf-8"))


def apply_folder_mode(path: str | os.PathLike[str]) -> Path:
    """Give an existing folder :func:`folder_mode` (``tempfile.mkdtemp`` makes folders 0700,
    whatever the umask). Returns the path."""
    folder = Path(path)
    os.chmod(folder, folder_mode())
    return folder


def content_digest(objects: Mapping[str, Any]) -> bytes:
    """SHA-256 of named contents: strings, numpy arrays (dtype, shape, bytes), mappings of
    arrays (a tree's branches) and ``hist.Hist`` objects (axes, storage, values).

    Raises:
        TypeError: an object of another kind.
    """
    digest = hashlib.sha256()

    def feed(name: str, value: Any) -> None:
        digest.update(name.encode("utf-8") + b"\0")
        if isinstance(value, str):
            digest.update(b"str\0" + value.encode("utf-8"))
        elif isinstance(value, np.ndarray):
            array = np.ascontiguousarray(value)
            digest.update(f"array\0{array.dtype.str}\0{array.shape}\0".encode())
            digest.update(array.tobytes())
        elif isinstance(value, Mapping):
            for key in sorted(value):
                feed(f"{name}/{key}", value[key])
        elif hasattr(value, "axes") and hasattr(value, "view"):  # a hist.Hist
            digest.update(f"hist\0{value.axes!r}\0{value.storage_type.__name__}\0".encode())
            digest.update(np.ascontiguousarray(value.view(flow=True)).tobytes())
        else:
            msg = f"cannot digest {name!r} of type {type(value).__name__}"
            raise TypeError(msg)

    for key in sorted(objects):
        feed(key, objects[key])
    return digest.digest()


def write_root(path: str | os.PathLike[str], objects: Mapping[str, Any],
               trees: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> Path:
    """Write a ROOT file with uproot, atomically and byte-reproducibly (module docstring).

    Args:
        path: the ``.root`` file.
        objects: name -> what ``file[name] = value`` writes (a string becomes a
            TObjString, a ``hist.Hist`` a TH1/TH2...).
        trees: name -> branches (numpy arrays), each written as a TTree (``mktree``).

    Returns:
        The path written.
    """
    import uproot

    trees = dict(trees or {})
    file_uuid = uuid.UUID(bytes=content_digest({**objects, **{
        f"tree:{name}": branches for name, branches in trees.items()}})[:16])
    target = Path(path)
    # under the final name (ROOT files record it), in a temporary folder beside the target
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    staged = folder / target.name
    try:
        with _ROOT_LOCK, _fixed_root_timestamps(), uproot.recreate(
                staged, uuid_function=lambda: file_uuid) as file:
            for name, value in objects.items():
                file[name] = value
            for name, branches in trees.items():
                # a TTree, explicitly: since uproot 5.7, ``file[name] = data`` writes an RNTuple
                file.mktree(name, dict(branches))
        os.chmod(staged, file_mode())
        os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
        folder.rmdir()
    return target


@contextlib.contextmanager
def _fixed_root_timestamps() -> Iterator[None]:
    """Make uproot stamp :data:`ROOT_TIMESTAMP` instead of the time of writing.

    uproot encodes every time stamp it writes with ``uproot._util.datetime_to_code`` (looked
    up at each call): it is replaced for the duration of the write (under a lock; the test
    suite compares two files byte for byte, so a change of uproot that bypasses it shows).
    """
    import uproot

    original = uproot._util.datetime_to_code
    fixed = original(ROOT_TIMESTAMP)
    uproot._util.datetime_to_code = lambda _when: fixed
    try:
        yield
    finally:
        uproot._util.datetime_to_code = original
