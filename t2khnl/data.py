"""Where the external input data (T2K fluxes, efficiency table, ...) is read from."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataFileError

ENV_VAR = "T2KHNL_DATA_DIR"
#: Fallbacks, in order: beside the repository checkout, then beside the working directory.
_DEFAULTS = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data",
    Path("..") / "shared" / "data",
)


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the input-data folder.

    Args:
        path: explicit folder (``--data-dir``); defaults to ``$T2KHNL_DATA_DIR``, then to
            ``../shared/data`` beside the repository checkout or the working directory.

    Raises:
        DataFileError: the folder does not exist.
    """
    given = path or os.environ.get(ENV_VAR)
    if given:
        candidate = Path(given).expanduser()
    else:
        candidate = next((p for p in _DEFAULTS if p.is_dir()), _DEFAULTS[0])
    if not candidate.is_dir():
        msg = (
            f"input data folder {candidate} does not exist: pass --data-dir or set "
            f"{ENV_VAR} to the folder holding flux/, efficiency/, ... (see flux/manifest.yaml)"
        )
        raise DataFileError(msg)
    return candidate
