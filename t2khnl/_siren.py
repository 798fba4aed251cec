"""The one place t2khnl imports SIREN, with a fix for its import hook.

siren 0.1.0 appends a meta-path importer (``siren.resources``) whose ``find_spec`` raises
``ImportError("This loader does not know module ...")`` for every module nobody else
finds, instead of returning None. Optional imports elsewhere (``tqdm``'s
``import envwrap``, ...) then fail once siren is loaded. :func:`load` imports siren and
makes that importer answer None for modules it does not know.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any


def _quiet_find_spec(original: Any) -> Any:
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
        try:
            return original(fullname, path, target)
        except ImportError:
            return None

    return find_spec


def load() -> ModuleType:
    """Import and return the ``siren`` package, its import hook made harmless."""
    try:
        import siren
    except ImportError as exc:  # pragma: no cover - siren is a hard dependency
        msg = "t2khnl needs SIREN: pip install siren==0.1.0"
        raise ImportError(msg) from exc
    for finder in sys.meta_path:
        hook: Any = finder  # SIREN's importer: its method is replaced on the instance
        if type(hook).__name__ == "_SIRENResourcesMetaPathImporter" and not getattr(
            hook, "_t2khnl_fixed", False
        ):
            hook.find_spec = _quiet_find_spec(hook.find_spec)
            hook._t2khnl_fixed = True
    return siren
