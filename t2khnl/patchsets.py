"""pyhf likelihoods of a scan: per-mass patchsets merged into one over the (m_N, d) grid,
and the archive HEPData takes (``BkgOnly.json``, ``patchset.json``, ``README.md``).

The scan writes one patchset per mass; :func:`merge_patchsets` joins them into one, which
is valid only because the background-only workspace does not depend on the mass (checked:
the workspaces must be identical).
"""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import files
from .errors import DataFileError, HEPDataError

if TYPE_CHECKING:
    from .scanstore import ScanStore

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def merge_patchsets(
    pairs: Iterable[tuple[PathLike, PathLike]],
    *,
    inspire_id: str | None = None,
    description: str | None = None,
) -> tuple[dict[str, Any], Any]:
    """One patchset over the whole grid from per-mass (background-only, patchset) files.

    Every patchset must verify against its background-only workspace (pyhf digest), and
    the background-only workspaces must be identical (the backgrounds do not depend on the
    mass), so that every patch applies to the one workspace returned.

    Args:
        pairs: (background-only workspace, patchset) JSON files, e.g. from
            :meth:`t2khnl.scanstore.ScanStore.mass_likelihoods`.
        inspire_id: the INSPIRE reference of the merged patchset (``"ins"`` + 7 digits);
            default :data:`t2khnl.experiment.HEPDATA_PLACEHOLDER`.
        description: description of the merged patchset (default: the first one's).

    Returns:
        (background-only workspace spec, merged ``pyhf.patchset.PatchSet``).

    Raises:
        DataFileError: a file is missing or not JSON.
        HEPDataError: an invalid workspace or patchset, a patchset made for another
            workspace, differing background-only workspaces or labels, a patch name or
            value given twice, or no pairs.
    """
    import pyhf

    from .experiment import HEPDATA_PLACEHOLDER

    reference: tuple[dict[str, Any], str, Path] | None = None
    labels: list[str] | None = None
    first_description = None
    patches: list[dict[str, Any]] = []
    names: dict[str, Path] = {}
    values: dict[tuple[float, ...], Path] = {}
    for bkg_file, patchset_file in pairs:
        bkg_path, ps_path = Path(bkg_file), Path(patchset_file)
        bkg = _read_json(bkg_path)
        try:
            pyhf.Workspace(bkg)
        except pyhf.exceptions.InvalidSpecification as err:
            msg = f"{bkg_path} is not a valid pyhf workspace: {err}"
            raise HEPDataError(msg) from err
        spec = _read_json(ps_path)
        try:
            patchset = pyhf.patchset.PatchSet(spec)
            patchset.verify(bkg)
        except pyhf.exceptions.PatchSetVerificationError as err:
            msg = f"{ps_path} was not made for the background-only workspace {bkg_path}: {err}"
            raise HEPDataError(msg) from err
        except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.InvalidPatchSet) as err:
            msg = f"{ps_path} is not a valid pyhf patchset: {err}"
            raise HEPDataError(msg) from err
        digest = pyhf.utils.digest(bkg, algorithm="sha256")
        if reference is None:
            reference = (bkg, digest, bkg_path)
            labels, first_description = list(patchset.labels), patchset.description
        elif digest != reference[1]:
            where = _first_difference(reference[0], bkg) or "/"
            msg = (
                f"the background-only workspaces {reference[2]} and {bkg_path} differ (at "
                f"{where}): their patchsets cannot be merged into one"
            )
            raise HEPDataError(msg)
        elif list(patchset.labels) != labels:
            msg = (
                f"{ps_path} labels its patches {list(patchset.labels)}, the first patchset {labels}"
            )
            raise HEPDataError(msg)
        for patch in spec["patches"]:
            name = patch["metadata"]["name"]
            key = tuple(float(v) for v in patch["metadata"]["values"])
            seen_pairs: tuple[tuple[dict[Any, Path], Any], ...] = ((names, name), (values, key))
            for seen, item in seen_pairs:
                if item in seen:
                    msg = f"patch {item!r} of {ps_path} is already in {seen[item]}"
                    raise HEPDataError(msg)
                seen[item] = ps_path
            patches.append(patch)
    if reference is None:
        msg = "merge_patchsets needs at least one (background-only, patchset) pair"
        raise HEPDataError(msg)
    merged = {
        "metadata": {
            "description": description or first_description,
            "digests": {"sha256": reference[1]},
            "labels": labels,
            "references": {"hepdata": inspire_id or HEPDATA_PLACEHOLDER},
        },
        "patches": patches,
        "version": "1.0.0",
    }
    try:
        patchset = pyhf.patchset.PatchSet(merged)
    except (pyhf.exceptions.InvalidSpecification, pyhf.exceptions.InvalidPatchSet) as err:
        msg = f"the merged patchset is invalid: {err}"
        raise HEPDataError(msg) from err
    log.info("merged %d patches from %d patchsets", len(patches), len(set(names.values())))
    return reference[0], patchset


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        msg = f"cannot read {path}: {err}"
        raise DataFileError(msg) from err
    except ValueError as err:
        msg = f"{path} is not valid JSON: {err}"
        raise DataFileError(msg) from err


def _first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """JSON pointer of the first place two JSON documents differ, None if they are equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}/{key}"
            found = _first_difference(a[key], b[key], f"{where}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return where or "/"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_difference(x, y, f"{where}/{i}")
            if found:
                return found
        return None
    return None if a == b else (where or "/")


def write_likelihoods(
    path: PathLike, bkg_only: Mapping[str, Any], patchset: Any, *, readme: str
) -> Path:
    """Write a pyhf likelihood archive: ``BkgOnly.json``, ``patchset.json``, ``README.md``.

    Args:
        path: the ``.tar.gz`` file to write.
        bkg_only: the background-only workspace spec.
        patchset: its ``pyhf.patchset.PatchSet``.
        readme: text of ``README.md``.

    Returns:
        The archive's path.
    """
    from .counting import patchset_json, workspace_json

    target = Path(path)
    members = {
        "BkgOnly.json": workspace_json(bkg_only) + "\n",
        "patchset.json": patchset_json(patchset) + "\n",
        "README.md": readme,
    }
    with tarfile.open(target, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return target


def write_grid_likelihood(store: ScanStore, detector: str) -> None:
    """Write the likelihood of the whole (m_N, d) grid: ``bkgonly_<detector>.json`` and
    ``patchset_<detector>.json`` (one patch per analysed mass and coupling, pyhf's
    patchset schema; :func:`t2khnl.patchsets.merge_patchsets`), atomically. Nothing is
    written when no mass left a likelihood (all skipped, or a runner that writes none).

    Args:
        store: the scan's folder.
        detector: ``"nd280"`` or ``"upgrade"``.
    """
    from . import counting

    if not store.has_mass_likelihoods(detector):
        return
    bkg_only, patchset = merge_patchsets(store.mass_likelihoods(detector))
    bkg_file, patchset_file = store.grid_likelihood(detector)
    files.write_text(bkg_file, counting.workspace_json(bkg_only) + "\n")
    files.write_text(patchset_file, counting.patchset_json(patchset) + "\n")


__all__ = ["merge_patchsets", "write_grid_likelihood", "write_likelihoods"]
