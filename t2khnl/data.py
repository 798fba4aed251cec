"""Where the external input data (T2K fluxes, efficiency table, ...) is read from."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataFileError

ENV_VAR = "T2KHNL_DATA_DIR"
_REPO_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the input-data folder.

    Args:
        path: explicit folder (``--data-dir``); defaults to ``$T2KHNL_DATA_DIR``, then to
            ``../shared/data`` beside the repository checkout.

    Raises:
        DataFileError: the folder does not exist.
    """
    candidate = Path(path or os.environ.get(ENV_VAR) or _REPO_DEFAULT).expanduser()
    if not candidate.is_dir():
        msg = (
            f"input data folder {candidate} does not exist: pass --data-dir or set "
            f"{ENV_VAR} to the folder holding flux/, efficiency/, ... (see flux/manifest.yaml)"
        )
        raise DataFileError(msg)
    return candidate
