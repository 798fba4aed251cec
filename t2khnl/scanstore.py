"""The scan folder: its layout, ``scan.json``, the per-mass results and the contour.

Every read and write of a scan's output folder goes through :class:`ScanStore` (files
written atomically, :mod:`t2khnl.files`): ``scan.json`` (the configuration a rerun must
match), ``masses/m<mass>/`` and ``masses/m<mass>.json`` (each mass's artefacts and its
result, which marks it done), ``contour.csv`` and ``contour.json``, the grid's likelihood
``bkgonly_<det>.json`` + ``patchset_<det>.json``, and ``scan.log``. Mass folders are named
by :func:`t2khnl.masses.mass_label` [GeV], so they sort by mass. :func:`read_contour` reads
a contour (the scan's or a copy) into the one typed :class:`Contour` (couplings in GeV^-1).

Details: docs/dataflow.md ("A scan's folder").
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import files
from .errors import DataFileError, InputError
from .masses import mass_label
from .scanrecords import ContourRecord, MassResult, ScanConfig

log = logging.getLogger(__name__)


#: Columns of ``contour.csv``, in order: mass [GeV], the edges of the excluded interval and
#: their MC errors [GeV^-1].
CONTOUR_COLUMNS = ("mass_gev", "d_low", "d_high", "d_low_err", "d_high_err")
#: Names of the files and folders of a scan folder.
SCAN_FILE = "scan.json"
MASSES_DIR = "masses"
CONTOUR_CSV = "contour.csv"
CONTOUR_JSON = "contour.json"
LOG_FILE = "scan.log"
#: Relative tolerance when an edge is compared with the ends of the coupling grid.
_GRID_END_RTOL = 1e-9

PathLike = str | os.PathLike[str]


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
        intervals: every excluded interval [GeV^-1] of the mass, when ``contour.json``
            lists them (near the bedrock turnover the rock-fed and the gas-fed exclusions
            are separate and ``d_low``..``d_high`` spans the hole between them); else ().
    """

    mass_gev: float
    d_low: float | None
    d_high: float | None
    d_low_err: float | None
    d_high_err: float | None
    d_low_open: bool
    d_high_open: bool
    intervals: tuple[tuple[float, float], ...] = ()


class Contour(NamedTuple):
    """A contour read from ``contour.csv`` (and ``contour.json`` when present).

    The columns are also available as arrays (NaN where a value is missing), for drawing.

    Attributes:
        path: the CSV file.
        rows: one per mass, sorted by mass.
        metadata: ``contour.json``'s metadata (detector, preset, pot_total, ...), or {}.
    """

    path: Path
    rows: tuple[ContourRow, ...]
    metadata: dict[str, Any]

    def column(self, name: str) -> npt.NDArray[np.float64]:
        """One column of :data:`CONTOUR_COLUMNS` as an array, NaN where it is empty."""
        if name not in CONTOUR_COLUMNS:
            msg = f"unknown contour column {name!r}; valid: {', '.join(CONTOUR_COLUMNS)}"
            raise InputError(msg)
        values = [getattr(row, name) for row in self.rows]
        return np.array([math.nan if v is None else v for v in values], dtype=np.float64)

    @property
    def mass_mev(self) -> npt.NDArray[np.float64]:
        """The masses [MeV]."""
        return self.column("mass_gev") * 1e3

    @property
    def d_low(self) -> npt.NDArray[np.float64]:
        """Lower edges [GeV^-1], NaN where not quoted."""
        return self.column("d_low")

    @property
    def d_high(self) -> npt.NDArray[np.float64]:
        """Upper edges [GeV^-1], NaN where not quoted."""
        return self.column("d_high")

    @property
    def d_low_err(self) -> npt.NDArray[np.float64]:
        """MC errors on the lower edges [GeV^-1], NaN where none."""
        return self.column("d_low_err")

    @property
    def d_high_err(self) -> npt.NDArray[np.float64]:
        """MC errors on the upper edges [GeV^-1], NaN where none."""
        return self.column("d_high_err")

    @property
    def holes(self) -> tuple[tuple[int, float, float], ...]:
        """The couplings inside ``d_low``..``d_high`` that are not excluded, as (index of
        the mass, lower end, upper end [GeV^-1]), from the rows' ``intervals``."""
        return tuple(sorted(
            (index, float(left[1]), float(right[0]))
            for index, row in enumerate(self.rows)
            for left, right in itertools.pairwise(row.intervals)))


# --------------------------------------------------------------------------- contour files
def read_contour(path: PathLike) -> Contour:
    """Read a contour: ``contour.csv`` (or a scan folder holding one) and its JSON twin.

    The open flags and the excluded intervals come from the JSON file beside the CSV
    (``contour.json`` for ``contour.csv``, else the CSV's stem + ``.json``) when it exists;
    without it an edge equal to an end of the coupling grid (1e-8 or 1e-3 GeV^-1) is open.

    Args:
        path: the CSV file, or a scan folder (its ``contour.csv``).

    Returns:
        The :class:`Contour`.

    Raises:
        DataFileError: the file is missing or unreadable, lacks a column, has an unparsable
            or non-positive number, no rows or a mass twice, or a JSON twin that is not a
            contour's or disagrees with the CSV.
    """
    csv_path = Path(path)
    if csv_path.is_dir():
        csv_path = csv_path / CONTOUR_CSV
    try:
        text = csv_path.read_text(encoding="utf-8")
    except OSError as err:
        msg = f"cannot read contour file {csv_path}: {err}"
        raise DataFileError(msg) from err
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CONTOUR_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        msg = (f"contour file {csv_path} lacks the column(s) {', '.join(missing)}; expected "
               f"the header {','.join(CONTOUR_COLUMNS)}")
        raise DataFileError(msg)
    rows: list[dict[str, Any]] = []
    for line, record in enumerate(reader, start=2):
        values = {c: _csv_number(record.get(c), c, csv_path, line) for c in CONTOUR_COLUMNS}
        if values["mass_gev"] is None:
            msg = f"contour file {csv_path}, line {line}: mass_gev is empty"
            raise DataFileError(msg)
        rows.append(values)
    if not rows:
        msg = f"contour file {csv_path} has no rows"
        raise DataFileError(msg)
    rows.sort(key=lambda r: r["mass_gev"])
    for a, b in itertools.pairwise(rows):
        if a["mass_gev"] == b["mass_gev"]:
            msg = f"contour file {csv_path} lists m_N = {a['mass_gev']!r} GeV twice"
            raise DataFileError(msg)
    json_path = csv_path.with_suffix(".json")
    metadata: dict[str, Any] = {}
    flags: dict[float, dict[str, Any]] = {}
    if json_path.is_file():
        metadata, flags = _read_contour_json(json_path, csv_path, rows)
    out = []
    for r in rows:
        held = flags.get(r["mass_gev"], {})
        out.append(ContourRow(
            **r,
            d_low_open=_open_flag(held.get("d_low_open"), r["d_low"], 0),
            d_high_open=_open_flag(held.get("d_high_open"), r["d_high"], -1),
            intervals=tuple((float(a), float(b)) for a, b in held.get("intervals") or ()),
        ))
    return Contour(csv_path, tuple(out), metadata)


def _csv_number(field: str | None, column: str, path: Path, line: int) -> float | None:
    text = (field or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as err:
        msg = f"contour file {path}, line {line}: {column} = {text!r} is not a number"
        raise DataFileError(msg) from err
    if not (math.isfinite(value) and value >= 0 and (value > 0 or column.endswith("_err"))):
        msg = f"contour file {path}, line {line}: {column} = {text!r} must be positive"
        raise DataFileError(msg)
    return value


def _read_contour_json(
    json_path: Path, csv_path: Path, rows: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[float, dict[str, Any]]]:
    """Metadata and per-mass records of ``contour.json``, checked against the CSV rows: a
    record that gives an edge must agree with the CSV."""
    try:
        document = json.loads(json_path.read_text(encoding="utf-8"))
        metadata = dict(document.get("metadata") or {})
        records = [rec for rec in document["records"] if rec.get("status", "done") == "done"]
        by_mass = {float(rec["mass_gev"]): rec for rec in records}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        msg = f"cannot read {json_path}: not a contour.json ({err!r})"
        raise DataFileError(msg) from err
    for r in rows:
        rec = by_mass.get(r["mass_gev"])
        if rec is None:
            msg = (f"{json_path} has no record of m_N = {r['mass_gev']!r} GeV listed in "
                   f"{csv_path}; rerun the scan to rewrite both")
            raise DataFileError(msg)
        for edge in ("d_low", "d_high"):
            if edge not in rec:
                continue
            held = rec[edge]
            if (held is None) != (r[edge] is None) or (
                    held is not None and not math.isclose(float(held), r[edge], rel_tol=1e-12)):
                msg = (f"{json_path} and {csv_path} disagree on {edge} at m_N = "
                       f"{r['mass_gev']!r} GeV ({held!r} vs {r[edge]!r})")
                raise DataFileError(msg)
    return metadata, by_mass


def _open_flag(held: Any, value: float | None, end: int) -> bool:
    """Whether an edge is open: ``contour.json``'s flag, else whether it is a grid end."""
    if value is None:
        return False
    if held is not None:
        return bool(held)
    from .couplings import D_GRID_GEV_INV

    return math.isclose(value, float(D_GRID_GEV_INV[end]), rel_tol=_GRID_END_RTOL)


def _csv_field(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def contour_records(results: Mapping[int, MassResult]) -> list[ContourRecord]:
    """The records of ``contour.json`` from per-mass results (by mass index), sorted by
    mass: edges, errors, open flags, intervals, status and reason, events and seed."""
    records = []
    for index in sorted(results, key=lambda i: results[i]["mass_gev"]):
        res = results[index]
        records.append(ContourRecord(
            mass_gev=res["mass_gev"], d_low=res.get("d_low"), d_high=res.get("d_high"),
            d_low_err=res.get("d_low_err"), d_high_err=res.get("d_high_err"),
            d_low_open=res.get("d_low_open"), d_high_open=res.get("d_high_open"),
            refused=res.get("refused"), intervals=res.get("intervals"),
            status=res["status"], reason=res["reason"],
            n_events=res["n_events"], seed=res["seed"],
        ))
    return records


class OpenEdges(NamedTuple):
    """Masses [GeV] whose exclusion reaches an end of the coupling grid.

    Attributes:
        low: masses excluded already at the lowest grid coupling.
        high: masses excluded still at the highest grid coupling.
    """

    low: list[float]
    high: list[float]

    def lines(self, d_range: Sequence[float] | None = None) -> list[str]:
        """One sentence per open end (none when no mass reaches one), for a scan's summary;
        ``d_range`` [GeV^-1] is the scan's coupling range (None: the default)."""
        from .couplings import D_RANGE_GEV_INV

        grid = tuple(d_range or D_RANGE_GEV_INV)
        out = []
        for masses, end, value in ((self.low, "lowest", grid[0]),
                                   (self.high, "highest", grid[1])):
            if masses:
                out.append(
                    f"{len(masses)} mass(es) ({_mass_span(masses)} GeV) are excluded at the "
                    f"{end} scanned coupling, {value:g} GeV^-1: the exclusion goes on beyond "
                    f"it; widen the grid with --d-range")
        return out


def open_edges(records: Sequence[Mapping[str, Any]]) -> OpenEdges:
    """The masses of finished per-mass results (or contour records) with an open edge."""
    done = sorted((rec for rec in records if rec.get("status") == "done"),
                  key=lambda rec: rec["mass_gev"])
    return OpenEdges([rec["mass_gev"] for rec in done if rec.get("d_low_open")],
                     [rec["mass_gev"] for rec in done if rec.get("d_high_open")])


def _mass_span(masses: list[float]) -> str:
    return f"{masses[0]:g}" if len(masses) == 1 else f"{masses[0]:g}-{masses[-1]:g}"


# --------------------------------------------------------------------------- the folder
@dataclass(frozen=True)
class ScanStore:
    """A scan's output folder (module docstring): where each file is, and its reads and
    (atomic) writes.

    Attributes:
        root: the folder ``DIR``.
    """

    root: Path

    def __init__(self, root: PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    # paths
    @property
    def scan_file(self) -> Path:
        """``scan.json``."""
        return self.root / SCAN_FILE

    @property
    def masses_dir(self) -> Path:
        """``masses/``."""
        return self.root / MASSES_DIR

    @property
    def contour_csv(self) -> Path:
        """``contour.csv``."""
        return self.root / CONTOUR_CSV

    @property
    def contour_json(self) -> Path:
        """``contour.json``."""
        return self.root / CONTOUR_JSON

    @property
    def log_file(self) -> Path:
        """``scan.log``."""
        return self.root / LOG_FILE

    def mass_dir(self, mass_gev: float) -> Path:
        """The folder of the limit step's artefacts at one mass [GeV]."""
        return self.masses_dir / mass_label(mass_gev)

    def mass_log_file(self, mass_gev: float) -> Path:
        """The log of one mass's analysis (``masses/m<mass>/run.log``)."""
        return self.mass_dir(mass_gev) / "run.log"

    def mass_file(self, mass_gev: float) -> Path:
        """The per-mass result of one mass [GeV]."""
        return self.masses_dir / f"{mass_label(mass_gev)}.json"

    def grid_likelihood(self, detector: str) -> tuple[Path, Path]:
        """(background-only workspace, patchset) of the whole grid of one detector."""
        return (self.root / f"bkgonly_{detector}.json", self.root / f"patchset_{detector}.json")

    def has_mass_likelihoods(self, detector: str) -> bool:
        """Whether some mass left a background-only workspace for ``detector``."""
        return any(self.masses_dir.glob(f"m*/bkgonly_{detector}.json"))

    def mass_likelihoods(self, detector: str) -> list[tuple[Path, Path]]:
        """The per-mass (background-only workspace, patchset) files, sorted by mass.

        Masses without a background-only workspace (skipped) are left out.

        Raises:
            DataFileError: no mass has the files, or a mass has one file of the pair only.
        """
        pairs = []
        for bkg in sorted(self.masses_dir.glob(f"m*/bkgonly_{detector}.json")):
            patchset = bkg.with_name(f"patchset_{detector}.json")
            if not patchset.is_file():
                msg = f"{bkg} has no patchset beside it ({patchset.name})"
                raise DataFileError(msg)
            pairs.append((bkg, patchset))
        if not pairs:
            msg = f"no masses/m*/bkgonly_{detector}.json in the scan folder {self.root}"
            raise DataFileError(msg)
        return pairs

    # scan.json
    def bind(self, wanted: Mapping[str, Any], force: bool) -> None:
        """Create the folder and write ``scan.json``, or check that the folder's holds the
        same configuration; with ``force`` another configuration's results are discarded.

        Raises:
            InputError: another configuration, without ``force``.
            DataFileError: ``scan.json`` is unreadable.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.scan_file
        if path.exists():
            try:
                held = json.loads(path.read_text())
            except (OSError, ValueError) as err:
                msg = f"cannot read {path}: {err}"
                raise DataFileError(msg) from err
            if held != wanted:
                if not force:
                    diff = sorted(k for k in set(held) | set(wanted)
                                  if held.get(k) != wanted.get(k))
                    msg = (f"output folder {self.root} holds another configuration (differs "
                           f"in {', '.join(diff)}); use --force to discard its results")
                    raise InputError(msg)
                log.warning("--force: discarding the results of another configuration in %s",
                            self.root)
                shutil.rmtree(self.masses_dir, ignore_errors=True)
                for name in (CONTOUR_CSV, CONTOUR_JSON):
                    (self.root / name).unlink(missing_ok=True)
        files.write_text(path, json.dumps(wanted, indent=2) + "\n")
        self.masses_dir.mkdir(exist_ok=True)

    # per-mass results
    def write_mass_result(self, mass_gev: float, result: Mapping[str, Any]) -> Path:
        """Write one mass's result (atomically: its existence marks the mass as done)."""
        return files.write_text(self.mass_file(mass_gev), json.dumps(result, indent=2) + "\n")

    def read_mass_result(self, mass_gev: float) -> MassResult:
        """One mass's result.

        Raises:
            DataFileError: it is missing or unreadable.
        """
        path = self.mass_file(mass_gev)
        try:
            result: MassResult = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            msg = f"cannot read the per-mass result {path}: {err}"
            raise DataFileError(msg) from err
        return result

    def finished(self, masses_gev: Sequence[float]) -> dict[int, MassResult]:
        """The results already on disk of the given masses, by index in ``masses_gev``
        (what a rerun skips); an unreadable one is logged and left out (to be redone)."""
        done = {}
        for index, mass in enumerate(masses_gev):
            path = self.mass_file(mass)
            if not path.exists():
                continue
            try:
                done[index] = json.loads(path.read_text())
            except (OSError, ValueError):
                log.warning("cannot read %s; recomputing m_N = %g GeV", path, mass)
        return done

    def mass_results(self) -> Iterator[tuple[Path, MassResult]]:
        """Every per-mass result in the folder, sorted by mass, with its file.

        Raises:
            DataFileError: a result is unreadable.
        """
        for path in sorted(self.masses_dir.glob("m*.json")):
            try:
                yield path, json.loads(path.read_text())
            except (OSError, ValueError) as err:
                msg = f"cannot read the per-mass result {path}: {err}"
                raise DataFileError(msg) from err

    # the contour
    def write_contour(self, config: ScanConfig,
                      results: Mapping[int, MassResult]) -> list[ContourRecord]:
        """Rewrite ``contour.csv`` and ``contour.json`` from the finished masses (atomically).

        ``contour.csv`` has one row per analysed mass, sorted by mass, with the columns
        :data:`CONTOUR_COLUMNS`; fields are empty where nothing is excluded or an edge is
        refused. Skipped masses are listed, with their reason, only in ``contour.json``,
        whose records also hold every excluded interval of a mass (``intervals``
        [GeV^-1]).

        Args:
            config: the scan's configuration (``scan.json``), the JSON's metadata.
            results: the per-mass results, by mass index.

        Returns:
            The records of ``contour.json`` (every finished mass, skipped ones included).
        """
        records = contour_records(results)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CONTOUR_COLUMNS)
        for rec in records:
            if rec["status"] == "done":
                row: Mapping[str, Any] = rec
                writer.writerow([_csv_field(row[k]) for k in CONTOUR_COLUMNS])
        files.write_text(self.contour_csv, buffer.getvalue())
        document = {
            "metadata": {
                **config, "columns": list(CONTOUR_COLUMNS),
                "units": {"mass_gev": "GeV", "d": "GeV^-1"},
                "n_masses": len(config["masses_gev"]), "n_finished": len(records),
                "n_skipped": sum(rec["status"] == "skipped" for rec in records),
            },
            "records": records,
        }
        files.write_text(self.contour_json, json.dumps(document, indent=2) + "\n")
        return records

    def contour(self) -> Contour:
        """The contour so far (:func:`read_contour`)."""
        return read_contour(self.contour_csv)

    def records(self) -> list[ContourRecord]:
        """The finished masses of the contour (``contour.json`` records with ``status ==
        "done"``), sorted by mass.

        Raises:
            DataFileError: ``contour.json`` is missing or unreadable.
        """
        path = self.contour_json
        try:
            document = json.loads(path.read_text())
            return [rec for rec in document["records"] if rec["status"] == "done"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            msg = f"cannot read the scan result {path}: {err}"
            raise DataFileError(msg) from err

    def copy_contour(self, target_csv: PathLike) -> None:
        """Copy ``contour.csv`` and its JSON twin to ``target_csv`` and the same name with
        ``.json`` (atomically)."""
        target = Path(target_csv)
        for source, suffix in ((self.contour_csv, ".csv"), (self.contour_json, ".json")):
            files.write_text(target.with_suffix(suffix), source.read_text())


__all__ = ["CONTOUR_COLUMNS", "Contour", "ContourRow", "OpenEdges", "ScanStore",
           "contour_records", "open_edges", "read_contour"]
