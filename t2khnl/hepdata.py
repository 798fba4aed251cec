"""HEPData submission of mass scans: contour tables, pyhf likelihoods, figures.

:func:`write_submission` turns the output of ``t2khnl scan`` into a HEPData submission
made with ``hepdata_lib`` and checked with ``hepdata_validator`` (offline, schema 1.1.1)::

    OUT/submission/           the submission folder (submission.yaml, one YAML per table,
                              the likelihood archives, figures)
    OUT/submission.tar.gz     the same files, the archive to upload

One table per contour (one per detector). Its independent variable is the HNL mass m_N
[GeV], as in ``contour.csv``; its dependent variables are the lower and upper edges of the
excluded interval of the dipole coupling d_muN [GeV^-1] with their MC (statistical) errors
(label ``MC stat``), and two flags (1 or 0) saying whether an edge is the end of the
scanned coupling grid (``t2khnl.couplings.D_GRID_GEV_INV``, 1e-8 to 1e-3 GeV^-1) rather
than a crossing of CLs = 0.05, i.e. the exclusion continues beyond the scanned range.
Qualifiers: CL 95%, detector, exposure [POT], preset, statistics, coupling convention
(d_muN = mu_tr/2, DarkNews's ``mu_tr_mu4`` = 2 d_muN).

Missing values: every mass of ``contour.csv`` is a row. Where nothing is excluded, or an
edge is not quoted (fewer than 50 effective MC events), the edge is the string ``'-'``,
HEPData's placeholder for an empty cell (the data schema allows string values); an edge
without an MC error (open edges, flat signal) has no ``errors`` entry.

Open edges come from ``contour.json`` beside the CSV (``d_low_open``/``d_high_open``,
written by :func:`t2khnl.scan.write_contour`); without it, an edge equal to an end of the
coupling grid counts as open.

Likelihoods, HEPData's pyhf convention: one ``.tar.gz`` per detector holding
``BkgOnly.json`` (the background-only workspace), ``patchset.json`` (one signal patch per
(m_N, d) grid point, labels ``mass_gev`` and ``d_gev_inv``) and a ``README.md``, attached to
the whole submission as an additional resource of ``type: HistFactory``. The scan writes
one patchset per mass; :func:`merge_patchsets` joins them into one, which is valid only
because the background-only workspace does not depend on the mass (checked: the workspaces
must be identical). The patchset's INSPIRE reference is ``inspire_id``
(:data:`t2khnl.limit.HEPDATA_PLACEHOLDER`, ``ins0000000``, until the record exists).

Figures (PNG or PDF) are attached to their table. ``hepdata_lib`` makes the table image and
its thumbnail with ImageMagick's ``convert``; if no ImageMagick is found, a figure is
attached as a plain additional resource of the table instead (no thumbnail).

``hepdata_lib`` 0.21 writes ``submission.tar.gz`` into the current working directory: the
submission is built in a temporary folder inside ``OUT`` that is made the working directory
for that call (not thread-safe), then moved into place once the validator accepts it (a
rejected submission leaves the previous one untouched). Importing ``hepdata_lib`` (done only
inside these functions) changes PyYAML globally: ``yaml.load(text, Loader=yaml.CLoader)``
fails afterwards (``yaml.safe_load`` and ``CSafeLoader`` are unaffected).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import itertools
import json
import logging
import math
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ._version import __version__
from .errors import DataFileError, T2KHNLError

log = logging.getLogger(__name__)

__all__ = [
    "CONTOUR_COLUMNS",
    "Contour",
    "ContourRow",
    "HEPDataError",
    "merge_patchsets",
    "read_contour",
    "scan_patchset_files",
    "validate",
    "write_likelihoods",
    "write_submission",
]

#: Columns ``contour.csv`` must have (:data:`t2khnl.scan.CONTOUR_COLUMNS`).
CONTOUR_COLUMNS = ("mass_gev", "d_low", "d_high", "d_low_err", "d_high_err")
#: Name of the submission folder and of the archive inside the output folder.
SUBMISSION_DIR = "submission"
SUBMISSION_ARCHIVE = "submission.tar.gz"
#: HEPData's placeholder for an empty cell.
MISSING = "-"
#: Label of the MC (statistical) error on the edges.
MC_ERROR_LABEL = "MC stat"
#: Coupling convention qualifier.
COUPLING_CONVENTION = "d_muN = mu_tr/2 (DarkNews mu_tr_mu4 = 2 d_muN)"
#: HEPData's additional-resource type of pyhf (HistFactory JSON) likelihoods.
HISTFACTORY_TYPE = "HistFactory"
#: Relative tolerance when an edge is compared with the ends of the coupling grid.
_GRID_END_RTOL = 1e-9
_DETECTOR_TEXT = {
    "nd280": ("ND280 2019", "ND280 (2019 data set)"),
    "upgrade": ("ND280 upgrade", "ND280 upgrade (projection)"),
}
_CALCTYPE_TEXT = {
    "exact": "CLs, exact (Poisson enumeration)",
    "asymptotics": "CLs, asymptotic formulae",
    "asymptotics_clsb": "CLs+b, asymptotic formulae",
    "toybased": "CLs, toys",
}
DEFAULT_COMMENT = (
    "Excluded ranges of the dipole coupling d_muN (transition magnetic moment between "
    "nu_mu and a heavy neutral lepton N) versus the HNL mass: N made by nu_mu upscattering "
    "in and around T2K's near detector ND280 and decaying to nu e+ e- in its gas TPCs. "
    "Analysis of arXiv:2412.15051 redone with t2khnl {version}, preset {preset}."
)


class HEPDataError(T2KHNLError, ValueError):
    """A submission cannot be made: inconsistent inputs or a submission HEPData rejects."""


class ContourRow(NamedTuple):
    """One mass of a contour.

    Attributes:
        mass_gev: HNL mass [GeV].
        d_low: lower edge of the excluded interval [GeV^-1], None if not quoted.
        d_high: upper edge [GeV^-1], None if not quoted.
        d_low_err: MC error on ``d_low`` [GeV^-1], None if not given.
        d_high_err: MC error on ``d_high`` [GeV^-1], None if not given.
        d_low_open: ``d_low`` is the lowest coupling of the grid (excluded below it too).
        d_high_open: ``d_high`` is the highest coupling of the grid (excluded above it too).
    """

    mass_gev: float
    d_low: float | None
    d_high: float | None
    d_low_err: float | None
    d_high_err: float | None
    d_low_open: bool
    d_high_open: bool


class Contour(NamedTuple):
    """A contour read from ``contour.csv`` (and ``contour.json`` when present).

    Attributes:
        path: the CSV file.
        rows: one per mass, sorted by mass.
        metadata: ``contour.json``'s metadata (detector, preset, pot_total, ...), or {}.
    """

    path: Path
    rows: tuple[ContourRow, ...]
    metadata: dict[str, Any]


PathLike = str | os.PathLike[str]
#: A likelihood source: (background-only workspace, patchset) files, or a scan folder.
LikelihoodSource = tuple[PathLike, PathLike] | PathLike


# --------------------------------------------------------------------------- contours
def read_contour(path: PathLike) -> Contour:
    """Read a contour: ``contour.csv`` (or a scan folder holding one) and its open flags.

    The open flags come from the JSON file beside the CSV (``contour.json`` for
    ``contour.csv``, else the CSV's stem + ``.json``) when it exists, else from the grid
    ends (an edge equal to 1e-8 or 1e-3 GeV^-1 is open).

    Args:
        path: the CSV file, or a scan folder (its ``contour.csv``).

    Returns:
        The :class:`Contour`.

    Raises:
        DataFileError: the file is missing or unreadable.
        HEPDataError: a missing column, an unparsable or non-positive number, no rows, a
            duplicate mass, or a JSON file that does not match the CSV.
    """
    csv_path = Path(path)
    if csv_path.is_dir():
        csv_path = csv_path / "contour.csv"
    try:
        text = csv_path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"cannot read contour file {csv_path}: {err}"
        raise DataFileError(msg) from err
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CONTOUR_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        msg = (
            f"contour file {csv_path} lacks the column(s) {', '.join(missing)}; expected "
            f"the header {','.join(CONTOUR_COLUMNS)}"
        )
        raise HEPDataError(msg)
    rows = []
    for line, record in enumerate(reader, start=2):
        values = {c: _csv_number(record.get(c), c, csv_path, line) for c in CONTOUR_COLUMNS}
        if values["mass_gev"] is None:
            msg = f"contour file {csv_path}, line {line}: mass_gev is empty"
            raise HEPDataError(msg)
        rows.append(values)
    if not rows:
        msg = f"contour file {csv_path} has no rows"
        raise HEPDataError(msg)
    rows.sort(key=lambda r: r["mass_gev"])
    for a, b in itertools.pairwise(rows):
        if a["mass_gev"] == b["mass_gev"]:
            msg = f"contour file {csv_path} lists m_N = {a['mass_gev']!r} GeV twice"
            raise HEPDataError(msg)
    json_path = csv_path.with_suffix(".json")
    metadata: dict[str, Any] = {}
    flags: dict[float, dict[str, Any]] | None = None
    if json_path.is_file():
        metadata, flags = _read_contour_json(json_path, csv_path, rows)
    out = []
    for r in rows:
        held = flags.get(r["mass_gev"], {}) if flags is not None else {}
        out.append(
            ContourRow(
                **r,
                d_low_open=_open_flag(held.get("d_low_open"), r["d_low"], 0),
                d_high_open=_open_flag(held.get("d_high_open"), r["d_high"], -1),
            )
        )
    return Contour(csv_path, tuple(out), metadata)


def _csv_number(field: str | None, column: str, path: Path, line: int) -> float | None:
    text = (field or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as err:
        msg = f"contour file {path}, line {line}: {column} = {text!r} is not a number"
        raise HEPDataError(msg) from err
    if not (math.isfinite(value) and value >= 0 and (value > 0 or column.endswith("_err"))):
        msg = f"contour file {path}, line {line}: {column} = {text!r} must be positive"
        raise HEPDataError(msg)
    return value


def _read_contour_json(
    json_path: Path, csv_path: Path, rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[float, dict[str, Any]]]:
    """Metadata and per-mass records of ``contour.json``, checked against the CSV rows."""
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        metadata = dict(document.get("metadata") or {})
        records = [rec for rec in document["records"] if rec.get("status", "done") == "done"]
        by_mass = {float(rec["mass_gev"]): rec for rec in records}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        msg = f"cannot read contour records from {json_path}: {err}"
        raise DataFileError(msg) from err
    for r in rows:
        rec = by_mass.get(r["mass_gev"])
        if rec is None:
            msg = (
                f"{json_path} has no record of m_N = {r['mass_gev']!r} GeV listed in "
                f"{csv_path}; rerun the scan to rewrite both"
            )
            raise HEPDataError(msg)
        for edge in ("d_low", "d_high"):
            held = rec.get(edge)
            if (held is None) != (r[edge] is None) or (
                held is not None and not math.isclose(float(held), r[edge], rel_tol=1e-12)
            ):
                msg = (
                    f"{json_path} and {csv_path} disagree on {edge} at m_N = "
                    f"{r['mass_gev']!r} GeV ({held!r} vs {r[edge]!r})"
                )
                raise HEPDataError(msg)
    return metadata, by_mass


def _open_flag(held: Any, value: float | None, end: int) -> bool:
    """Whether an edge is open: ``contour.json``'s flag, else whether it is a grid end."""
    if value is None:
        return False
    if held is not None:
        return bool(held)
    from .couplings import D_GRID_GEV_INV

    return math.isclose(value, float(D_GRID_GEV_INV[end]), rel_tol=_GRID_END_RTOL)


# --------------------------------------------------------------------------- likelihoods
def scan_patchset_files(scan_dir: PathLike, detector: str) -> list[tuple[Path, Path]]:
    """The per-mass (background-only workspace, patchset) files of a scan, sorted by mass.

    Args:
        scan_dir: the scan folder (``masses/m<mass>/bkgonly_<detector>.json`` and
            ``patchset_<detector>.json``).
        detector: ``"nd280"`` or ``"upgrade"``.

    Returns:
        The pairs of files; masses without a background-only workspace (skipped) are left
        out.

    Raises:
        DataFileError: no mass has the files, or a mass has one file of the pair only.
    """
    masses = Path(scan_dir) / "masses"
    pairs = []
    for bkg in sorted(masses.glob(f"m*/bkgonly_{detector}.json")):
        patchset = bkg.with_name(f"patchset_{detector}.json")
        if not patchset.is_file():
            msg = f"{bkg} has no patchset beside it ({patchset.name})"
            raise DataFileError(msg)
        pairs.append((bkg, patchset))
    if not pairs:
        msg = f"no masses/m*/bkgonly_{detector}.json in the scan folder {scan_dir}"
        raise DataFileError(msg)
    return pairs


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
            :func:`scan_patchset_files`.
        inspire_id: the INSPIRE reference of the merged patchset (``"ins"`` + 7 digits);
            default :data:`t2khnl.limit.HEPDATA_PLACEHOLDER`.
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

    from .limit import HEPDATA_PLACEHOLDER

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
            for seen, item in ((names, name), (values, key)):
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


def _load_likelihood(
    source: LikelihoodSource, detector: str, inspire_id: str | None
) -> tuple[dict[str, Any], Any]:
    if isinstance(source, tuple | list):
        if len(source) != 2:
            msg = (
                f"likelihood of {detector}: expected (background-only, patchset) files, "
                f"got {source!r}"
            )
            raise HEPDataError(msg)
        pairs: Sequence[tuple[PathLike, PathLike]] = [(source[0], source[1])]
    else:
        pairs = scan_patchset_files(source, detector)
    return merge_patchsets(pairs, inspire_id=inspire_id)


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
    files = {
        "BkgOnly.json": workspace_json(bkg_only) + "\n",
        "patchset.json": patchset_json(patchset) + "\n",
        "README.md": readme,
    }
    with tarfile.open(target, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return target


def _likelihood_readme(detector: str, patchset: Any, cfg: dict[str, Any]) -> str:
    masses = sorted({float(p.values[0]) for p in patchset})
    couplings = sorted({float(p.values[1]) for p in patchset})
    observed = (
        "the observations are the 2019 data (0 FHC, 0 RHC events)"
        if detector == "nd280"
        else "the observations are placeholders (0 events): the projected sensitivity "
        "uses background-only Asimov data"
    )
    return f"""# pyhf likelihoods: dipole-portal HNLs, {_DETECTOR_TEXT[detector][1]}

Made by t2khnl {__version__} (preset `{cfg["name"]}`).

* `BkgOnly.json`: background-only workspace, one bin per beam mode (FHC, RHC); {observed}.
* `patchset.json`: {len(patchset)} patches, one per model point, labels
  {", ".join(patchset.labels)} (m_N [GeV], d_muN [GeV^-1]; d_muN = mu_tr/2);
  {len(masses)} masses from {masses[0]:g} to {masses[-1]:g} GeV, {len(couplings)} couplings
  from {couplings[0]:g} to {couplings[-1]:g} GeV^-1. Each patch adds the signal (POI `mu`).

Workspace of one point and its CLs:

    pyhf patchset apply BkgOnly.json patchset.json --name <patch name> --output-file ws.json
    pyhf cls ws.json

The limits in this record use: {_statistics(detector, cfg)}. `pyhf cls` uses the
asymptotic formulae; with 0 events observed the exact (Poisson) CLs is exp(-s). The
INSPIRE reference of the patchset is `{patchset.references["hepdata"]}`.
"""


# --------------------------------------------------------------------------- submission
def write_submission(
    output_dir: PathLike,
    contours: Mapping[str, PathLike],
    *,
    patchsets: Mapping[str, LikelihoodSource] | None = None,
    figures: Mapping[str, PathLike] | None = None,
    preset: str | None = None,
    comment: str | None = None,
    inspire_id: str | None = None,
    digits: int = 6,
) -> Path:
    """Write a validated HEPData submission of contours, likelihoods and figures.

    Args:
        output_dir: folder to write ``submission/`` and ``submission.tar.gz`` into (created;
            a previous ``submission/`` and archive there are replaced, nothing else is
            touched).
        contours: ``contour.csv`` files (or scan folders) by detector (``"nd280"``,
            ``"upgrade"``); one table each.
        patchsets: likelihoods by detector: (background-only workspace, patchset) files, or
            a scan folder whose per-mass patchsets are merged (:func:`merge_patchsets`).
            None: no likelihoods.
        figures: a PNG or PDF by detector, attached to that detector's table. None: none.
        preset: ``"corrected"`` or ``"published"`` (a qualifier, and the default exposure);
            default: the one in ``contour.json``, which must agree if both are given.
        comment: the submission's comment (default: :data:`DEFAULT_COMMENT`).
        inspire_id: INSPIRE record of the paper (``"ins"`` + 7 digits); default the
            placeholder :data:`t2khnl.limit.HEPDATA_PLACEHOLDER`, not written as a record id.
        digits: significant digits of the numbers in the tables.

    Returns:
        The archive ``output_dir/submission.tar.gz``.

    Raises:
        DataFileError: an input file is missing or unreadable.
        HEPDataError: unknown detectors, inconsistent inputs (:func:`read_contour`,
            :func:`merge_patchsets`), or a submission the HEPData validator rejects (with
            its messages).
        InputError: an unknown preset.
    """
    from . import config

    if not contours:
        msg = "write_submission needs at least one contour"
        raise HEPDataError(msg)
    patchsets, figures = dict(patchsets or {}), dict(figures or {})
    for what, keys in (("contours", contours), ("patchsets", patchsets), ("figures", figures)):
        unknown = sorted(set(keys) - set(config.DETECTORS))
        if unknown:
            msg = (
                f"{what}: unknown detector(s) {', '.join(map(repr, unknown))}; keys must be "
                f"among {', '.join(config.DETECTORS)}"
            )
            raise HEPDataError(msg)
    if set(figures) - set(contours):
        msg = f"figures given for {sorted(set(figures) - set(contours))} without a contour"
        raise HEPDataError(msg)
    if inspire_id is not None and not re.fullmatch(r"ins\d{7}", inspire_id):
        msg = f"inspire_id must be 'ins' and 7 digits, got {inspire_id!r}"
        raise HEPDataError(msg)
    if not (isinstance(digits, int) and 1 <= digits <= 17):
        msg = f"digits must be an integer from 1 to 17, got {digits!r}"
        raise HEPDataError(msg)
    read = {det: read_contour(path) for det, path in contours.items()}
    preset_name = _preset(preset, read)
    cfg = config.load(preset_name)
    likelihoods = {det: _load_likelihood(src, det, inspire_id) for det, src in patchsets.items()}

    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    final_dir, final_archive = out / SUBMISSION_DIR, out / SUBMISSION_ARCHIVE
    if final_dir.exists() and not (final_dir / "submission.yaml").is_file():
        msg = f"{final_dir} exists and is not a HEPData submission folder; not replacing it"
        raise HEPDataError(msg)
    with tempfile.TemporaryDirectory(dir=out, prefix=".hepdata-") as tmp:
        work = Path(tmp).resolve()
        inputs = work / "inputs"
        inputs.mkdir()
        submission = _submission(
            read, likelihoods, figures, cfg, comment, inspire_id, digits, inputs
        )
        folder = work / SUBMISSION_DIR
        with _working_directory(work):
            submission.create_files(str(folder), validate=False)
        archive = work / SUBMISSION_ARCHIVE
        validate(folder)
        validate(archive)
        if final_dir.exists():
            shutil.rmtree(final_dir)
        os.replace(folder, final_dir)
        os.replace(archive, final_archive)
    log.info(
        "HEPData submission written to %s (%d table(s), %d likelihood archive(s))",
        final_archive,
        len(read),
        len(likelihoods),
    )
    return final_archive


def _preset(preset: str | None, contours: Mapping[str, Contour]) -> str:
    """The preset: the argument, checked against what the contours' metadata say."""
    held = {c.metadata["preset"]: c.path for c in contours.values() if c.metadata.get("preset")}
    for name, path in held.items():
        if preset is not None and name != preset:
            msg = f"preset {preset!r} was asked for, but {path} comes from preset {name!r}"
            raise HEPDataError(msg)
    if len(held) > 1:
        msg = f"the contours come from different presets: {held}"
        raise HEPDataError(msg)
    if preset is None:
        if not held:
            msg = "no contour.json names the preset: give preset='corrected' or 'published'"
            raise HEPDataError(msg)
        preset = next(iter(held))
    return preset


def _submission(
    contours: Mapping[str, Contour],
    likelihoods: Mapping[str, tuple[Any, Any]],
    figures: Mapping[str, PathLike],
    cfg: dict[str, Any],
    comment: str | None,
    inspire_id: str | None,
    digits: int,
    inputs: Path,
) -> Any:
    """The hepdata_lib Submission (input files staged in ``inputs``)."""
    from hepdata_lib import Submission

    submission = Submission()
    submission.comment = comment or DEFAULT_COMMENT.format(version=__version__, preset=cfg["name"])
    if inspire_id is not None and inspire_id != _placeholder():
        submission.add_record_id(int(inspire_id[3:]), "inspire")
    for det in sorted(contours):
        table = _table(det, contours[det], cfg, digits)
        if det in figures:
            _attach_figure(table, det, Path(figures[det]), inputs)
        submission.add_table(table)
    for det in sorted(likelihoods):
        bkg_only, patchset = likelihoods[det]
        archive = write_likelihoods(
            inputs / f"likelihoods_{det}.tar.gz",
            bkg_only,
            patchset,
            readme=_likelihood_readme(det, patchset, cfg),
        )
        submission.add_additional_resource(
            f"pyhf likelihoods (HistFactory JSON), {_DETECTOR_TEXT[det][1]}: background-only "
            f"workspace BkgOnly.json and patchset.json with one signal patch per (m_N, d) of "
            f"the scan ({len(patchset)} patches)",
            str(archive),
            copy_file=True,
            file_type=HISTFACTORY_TYPE,
        )
    return submission


def _placeholder() -> str:
    from .limit import HEPDATA_PLACEHOLDER

    return HEPDATA_PLACEHOLDER


def _table(detector: str, contour: Contour, cfg: dict[str, Any], digits: int) -> Any:
    """The hepdata_lib Table of one contour."""
    from hepdata_lib import Table, Uncertainty, Variable

    from .couplings import D_GRID_GEV_INV

    held = contour.metadata.get("detector")
    if held is not None and held != detector:
        msg = f"{contour.path} is a {held} contour, given as {detector!r}"
        raise HEPDataError(msg)
    short, long = _DETECTOR_TEXT[detector]
    rows = contour.rows
    grid = (float(D_GRID_GEV_INV[0]), float(D_GRID_GEV_INV[-1]))
    table = Table(f"Excluded d_muN interval {short}")
    table.location = f"Mass scan with t2khnl {__version__} (cf. arXiv:2412.15051)"
    table.description = (
        f"Excluded interval d_low < d_muN < d_high of the dipole coupling at 95% CL versus "
        f"the HNL mass m_N, {long}, preset {cfg['name']}. Below d_low too few HNLs are made "
        f"and decay in the TPCs, above d_high they decay before reaching them. '-': nothing "
        f"excluded, or the edge is not quoted (fewer than 50 effective MC events). Errors: "
        f"MC statistical error on the edge. An open flag of 1 means the edge is the end of "
        f"the scanned range {grid[0]:g} to {grid[1]:g} GeV^-1 and the exclusion continues "
        f"beyond it."
    )
    table.keywords["observables"] = ["d_muN", "LIMIT"]
    table.keywords["reactions"] = ["NUMU NUCLEUS --> N NUCLEUS", "N --> NU E+ E-"]
    table.keywords["phrases"] = [
        "Heavy neutral lepton",
        "Dipole portal",
        "Exclusion limit",
        "Neutrino upscattering",
        "T2K",
        "ND280",
    ]

    mass = Variable(
        "$m_N$",
        is_independent=True,
        is_binned=False,
        units="GeV",
        values=[r.mass_gev for r in rows],
    )
    mass.digits = digits
    table.add_variable(mass)
    qualifiers = _qualifiers(detector, contour, cfg, grid)
    for edge, label in (("d_low", "lower"), ("d_high", "upper")):
        var = Variable(
            f"$d_{{\\mu N}}$ {label} edge",
            is_independent=False,
            is_binned=False,
            units="GeV^-1",
            zero_uncertainties_warning=False,
            values=[MISSING if getattr(r, edge) is None else getattr(r, edge) for r in rows],
        )
        var.digits = digits
        error = Uncertainty(MC_ERROR_LABEL, is_symmetric=True)
        error.values = [
            None if getattr(r, edge) is None else getattr(r, f"{edge}_err") for r in rows
        ]
        var.add_uncertainty(error)
        for name, value, units in qualifiers:
            var.add_qualifier(name, value, units)
        table.add_variable(var)
    for edge, label in (("d_low", "lower"), ("d_high", "upper")):
        flag = Variable(
            f"{label} edge open (1: end of the scanned d range)",
            is_independent=False,
            is_binned=False,
            zero_uncertainties_warning=False,
            values=[
                MISSING if getattr(r, edge) is None else int(getattr(r, f"{edge}_open"))
                for r in rows
            ],
        )
        table.add_variable(flag)
    return table


def _qualifiers(
    detector: str, contour: Contour, cfg: dict[str, Any], grid: tuple[float, float]
) -> list[tuple[str, str, str]]:
    from .limit import exposures

    pot = exposures(detector, cfg, contour.metadata.get("pot_total"))
    return [
        ("CL", "95%", ""),
        ("detector", _DETECTOR_TEXT[detector][1], ""),
        ("exposure", f"{pot['fhc']:.4g} (FHC) + {pot['rhc']:.4g} (RHC)", "POT"),
        ("preset", cfg["name"], ""),
        ("statistics", _statistics(detector, cfg), ""),
        ("coupling convention", COUPLING_CONVENTION, ""),
        ("scanned d range", f"{grid[0]:g} to {grid[1]:g}", "GeV^-1"),
    ]


def _statistics(detector: str, cfg: dict[str, Any]) -> str:
    """What the limits are: observed (ND280 2019) or expected (upgrade), and the CL method."""
    calctype = cfg["statistics"]["calctype"]
    if detector == "nd280":
        return f"observed, 0 FHC + 0 RHC events; {_CALCTYPE_TEXT.get(calctype, calctype)}"
    kind = "CLs+b" if calctype == "asymptotics_clsb" else "CLs"
    return f"expected, background-only Asimov data; {kind}, asymptotic formulae"


def _attach_figure(table: Any, detector: str, path: Path, inputs: Path) -> None:
    """Attach a figure to a table: image + thumbnail with ImageMagick, else a plain file."""
    if path.suffix.lower() not in (".png", ".pdf"):
        msg = f"figure {path} must be a PNG or PDF file"
        raise HEPDataError(msg)
    if not path.is_file():
        msg = f"figure {path} does not exist"
        raise DataFileError(msg)
    # hepdata_lib runs convert through a shell with unquoted paths: stage a safe name.
    staged = inputs / f"figure_{detector}{path.suffix.lower()}"
    shutil.copyfile(path, staged)
    if _has_imagemagick():
        table.add_image(str(staged))
    else:
        log.info("ImageMagick's convert not found: %s attached without a thumbnail", path)
        table.add_additional_resource(
            f"Figure ({_DETECTOR_TEXT[detector][1]})", str(staged), copy_file=True
        )


@functools.lru_cache(maxsize=1)
def _has_imagemagick() -> bool:
    """Whether ``convert`` on the PATH is ImageMagick (what hepdata_lib calls)."""
    exe = shutil.which("convert")
    if exe is None:
        return False
    try:
        result = subprocess.run(
            [exe, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and "ImageMagick" in result.stdout


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


# --------------------------------------------------------------------------- validation
def validate(path: PathLike) -> None:
    """Validate a submission folder or archive with ``hepdata_validator`` (offline).

    Args:
        path: a submission folder (with ``submission.yaml``) or archive (``.tar.gz``,
            ``.zip``).

    Raises:
        HEPDataError: the submission is invalid; the message lists the validator's
            messages, by file.
    """
    from hepdata_validator.full_submission_validator import FullSubmissionValidator

    target = Path(path)
    validator = FullSubmissionValidator(autoload_remote_schemas=False)
    if target.is_dir():
        valid = validator.validate(directory=str(target))
    else:
        valid = validator.validate(archive=str(target))
    if valid:
        log.debug("%s is a valid HEPData submission", target)
        return
    lines = [
        f"{file}: {message.level} - {message.message}"
        for file, messages in validator.get_messages().items()
        for message in messages
    ]
    msg = f"HEPData validation of {target} failed:\n  " + "\n  ".join(lines or ["(no message)"])
    raise HEPDataError(msg)
