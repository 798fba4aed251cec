"""Event selections: declarative e+e- cuts (``selections/*.yaml``), efficiency, cut flow.

A selection is a YAML file checked against ``selections/schema.json``: its detector, an
ordered list of cuts (``fiducial_volume``, ``opening_angle_max`` [deg], ``cos_theta_n_min``,
``pair_energy_min`` [GeV]) and the selection efficiency versus HNL mass. :func:`load`
parses and validates one; :func:`apply` evaluates its cuts column-wise on an ntuple's
events and returns the passing events with ``weight_selected = weight * efficiency``
[1/POT] (without BR(N -> nu e+e-), which depends on the preset) and the cut flow, which
:func:`cutflow_table` prints. The efficiency is one number per mass (the T2K 2019 e+e-nu
table, smaller column, linear between nodes, flat outside).

Details: selections/README.md.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import awkward as ak
import numpy as np
import numpy.typing as npt
import yaml

from . import config
from .efficiency import DEFAULT_EFFICIENCY_TABLE, EfficiencyTable, efficiency, read_efficiency_table
from .errors import InputError

__all__ = [
    "CUTS",
    "DEFAULT_EFFICIENCY_TABLE",
    "Cut",
    "CutflowRow",
    "EfficiencySpec",
    "EfficiencyTable",
    "Selected",
    "Selection",
    "apply",
    "available",
    "cutflow_table",
    "efficiency",
    "load",
    "read_efficiency_table",
]

log = logging.getLogger(__name__)

CUTS: tuple[str, ...] = (
    "fiducial_volume",
    "opening_angle_max",
    "cos_theta_n_min",
    "pair_energy_min",
)
"""The cut names a selection file may use, in no particular order."""

_PACKAGE = "t2khnl.selections"
_VERTEX_TOLERANCE_M = 1.0e-6
"""Slack [m] on the fiducial-box faces for the decay-vertex containment check."""

_BRANCHES: dict[str, tuple[str, ...]] = {
    "fiducial_volume": ("fv_index", "dec_x", "dec_y", "dec_z"),
    "opening_angle_max": ("ep_px", "ep_py", "ep_pz", "em_px", "em_py", "em_pz"),
    "cos_theta_n_min": ("hnl_px", "hnl_py", "hnl_pz"),
    "pair_energy_min": ("ep_e", "em_e"),
}

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cut:
    """One cut of a selection.

    Attributes:
        kind: the cut name, one of :data:`CUTS`.
        params: its parameters as in the YAML file (``volumes``, ``deg``, ``value`` or
            ``gev``), without ``cut`` and ``why``.
        why: the justification given in the file ("" if none).
        index: position in the file's ``cuts`` list (for error messages).
    """

    kind: str
    params: Mapping[str, Any]
    why: str = ""
    index: int = 0

    @property
    def label(self) -> str:
        """Short human-readable form, used as the cut-flow row name."""
        p = self.params
        if self.kind == "fiducial_volume":
            return f"fiducial volume in {{{', '.join(p['volumes'])}}}"
        if self.kind == "opening_angle_max":
            return f"opening angle(e+, e-) < {p['deg']:g} deg"
        if self.kind == "cos_theta_n_min":
            return f"cos theta_N > {p['value']:g}"
        return f"E(e+) + E(e-) > {p['gev']:g} GeV"


@dataclass(frozen=True)
class EfficiencySpec:
    """How a selection's efficiency is obtained.

    Attributes:
        table: manifest path of the table (read through :func:`t2khnl.flux.verify`).
        citation: where the table comes from.
        resample_grid_mev: ``(start, stop, step)`` [MeV] of the authors' intermediate
            grid, or ``None`` for plain linear interpolation between the table's nodes.
    """

    table: str
    citation: str
    resample_grid_mev: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class Selection:
    """A parsed, schema-checked selection.

    Attributes:
        name: selection name (the file's stem for packaged selections).
        description: what it selects.
        detector: ``"nd280"`` or ``"upgrade"``; must match the ntuple's detector.
        preset: ``"corrected"`` or ``"published"``, the analysis configuration it belongs to.
        cuts: the cuts, in the order they are applied.
        efficiency: the efficiency specification.
        source: the file it was read from.
        spec: the parsed YAML (for provenance in outputs).
    """

    name: str
    description: str
    detector: str
    preset: str
    cuts: tuple[Cut, ...]
    efficiency: EfficiencySpec
    source: str
    spec: Mapping[str, Any] = field(repr=False)

    def fiducial_volumes(self) -> tuple[str, ...]:
        """Return the fiducial-volume names the selection's cuts use (in file order)."""
        names: list[str] = []
        for cut in self.cuts:
            if cut.kind == "fiducial_volume":
                names.extend(n for n in cut.params["volumes"] if n not in names)
        return tuple(names)


class CutflowRow(NamedTuple):
    """One row of a cut flow: the events left after a cut.

    Attributes:
        cut: row label (``"all events"``, a cut's label, or the efficiency factor).
        raw: number of MC events left.
        weighted_per_pot: sum of their weights [1/POT] (expected decays per POT).
    """

    cut: str
    raw: int
    weighted_per_pot: float


class Selected(NamedTuple):
    """The result of :func:`apply`.

    Attributes:
        events: the passing events, with the extra field ``weight_selected`` [1/POT] =
            ``weight * efficiency``.
        cutflow: rows after "all events", after each cut, then after the efficiency.
        efficiency: the efficiency applied at the ntuple's mass (dimensionless).
        mask: boolean mask of the passing events in the input array.
        selection: the selection applied.
    """

    events: ak.Array
    cutflow: list[CutflowRow]
    efficiency: float
    mask: BoolArray
    selection: Selection


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def available() -> tuple[str, ...]:
    """List the packaged selections.

    Returns:
        Their names (file stems in ``selections/``), sorted.
    """
    folder = resources.files(_PACKAGE)
    return tuple(
        sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))
    )


def _schema() -> dict[str, Any]:
    text = resources.files(_PACKAGE).joinpath("schema.json").read_text(encoding="utf-8")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _read_selection_file(name: str | os.PathLike[str]) -> tuple[Any, str]:
    """Return the parsed YAML and a description of where it came from."""
    text_name = os.fspath(name)
    path = Path(text_name).expanduser()
    if text_name.endswith((".yaml", ".yml")) or os.sep in text_name or "/" in text_name:
        if not path.is_file():
            msg = f"selection file {path} does not exist"
            raise InputError(msg)
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8")), str(path)
        except (OSError, yaml.YAMLError) as err:
            msg = f"cannot read selection file {path}: {err}"
            raise InputError(msg) from err
    if text_name not in available():
        msg = (
            f"unknown selection {text_name!r}; packaged selections: {', '.join(available())} "
            f"(or pass the path of a .yaml file)"
        )
        raise InputError(msg)
    resource = resources.files(_PACKAGE).joinpath(f"{text_name}.yaml")
    return yaml.safe_load(resource.read_text(encoding="utf-8")), f"selections/{text_name}.yaml"


def load(name: str | os.PathLike[str]) -> Selection:
    """Load and validate a selection.

    Args:
        name: a packaged selection (``"nd280_ee"``, ``"upgrade_ee"``,
            ``"nd280_ee_published"``, ``"upgrade_ee_published"``; see :func:`available`) or
            the path of a YAML file following ``selections/schema.json``.

    Returns:
        The selection.

    Raises:
        InputError: unknown selection, unreadable file, an unknown cut name (the message
            names the entry), or any other departure from the schema (the failing path is
            named).
    """
    spec, where = _read_selection_file(name)
    if not isinstance(spec, dict):
        msg = f"selection {where} must be a YAML mapping, got {type(spec).__name__}"
        raise InputError(msg)
    cuts = spec.get("cuts")
    if isinstance(cuts, list):
        for i, entry in enumerate(cuts):
            kind = entry.get("cut") if isinstance(entry, dict) else None
            if kind not in CUTS:
                msg = (
                    f"selection {where}: cuts[{i}] has unknown cut {kind!r}; "
                    f"known cuts: {', '.join(CUTS)}"
                )
                raise InputError(msg)
    config.check_schema(spec, _schema(), f"selection {where}")
    eff = spec["efficiency"]
    grid = eff.get("resample_grid_mev")
    if grid is not None and not grid[0] < grid[1]:
        msg = f"invalid selection {where} at efficiency/resample_grid_mev: start >= stop"
        raise InputError(msg)
    selection = Selection(
        name=spec["name"],
        description=" ".join(spec["description"].split()),
        detector=spec["detector"],
        preset=spec["preset"],
        cuts=tuple(
            Cut(
                kind=entry["cut"],
                params={k: v for k, v in entry.items() if k not in ("cut", "why")},
                why=" ".join(str(entry.get("why", "")).split()),
                index=i,
            )
            for i, entry in enumerate(spec["cuts"])
        ),
        efficiency=EfficiencySpec(
            table=eff["table"],
            citation=" ".join(eff["citation"].split()),
            resample_grid_mev=None if grid is None else (
                float(grid[0]), float(grid[1]), float(grid[2])
            ),
        ),
        source=where,
        spec=spec,
    )
    log.debug("loaded selection %s from %s: %d cuts", selection.name, where, len(selection.cuts))
    return selection


# --------------------------------------------------------------------------------------
# Cuts
# --------------------------------------------------------------------------------------
def _column(events: ak.Array, name: str, cut: Cut, dtype: type = np.float64) -> Any:
    if name not in events.fields:
        msg = f"ntuple lacks branch {name!r}, needed by cuts[{cut.index}] ({cut.kind})"
        raise InputError(msg)
    return np.asarray(ak.to_numpy(events[name]), dtype=dtype)


def _fiducial_indices(cut: Cut, metadata: Mapping[str, Any], where: str) -> list[int]:
    boxes = metadata.get("fiducial_volumes")
    if not isinstance(boxes, list) or not boxes:
        msg = "ntuple metadata has no 'fiducial_volumes' list"
        raise InputError(msg)
    names = [str(b.get("name")) for b in boxes]
    indices = []
    for wanted in cut.params["volumes"]:
        if wanted not in names:
            msg = (
                f"selection {where}: fiducial volume {wanted!r} (cuts[{cut.index}]) is not "
                f"among the ntuple's fiducial_volumes ({', '.join(names)})"
            )
            raise InputError(msg)
        indices.append(names.index(wanted))
    return indices


def _fiducial_mask(events: ak.Array, cut: Cut, metadata: Mapping[str, Any], where: str) -> Any:
    indices = _fiducial_indices(cut, metadata, where)
    boxes = metadata["fiducial_volumes"]
    try:
        centres = np.array([b["centre_m"] for b in boxes], dtype=float).reshape(-1, 3)
        half = 0.5 * np.array([b["widths_m"] for b in boxes], dtype=float).reshape(-1, 3)
    except (KeyError, TypeError, ValueError) as err:
        msg = f"ntuple metadata fiducial_volumes need centre_m and widths_m [m] triples: {err}"
        raise InputError(msg) from err
    fv = _column(events, "fv_index", cut, np.int64)
    vertex = np.stack([_column(events, f"dec_{a}", cut) for a in "xyz"], axis=1)
    in_list = np.isin(fv, indices)
    safe = np.where(in_list, fv, 0)
    inside = (np.abs(vertex - centres[safe]) <= half[safe] + _VERTEX_TOLERANCE_M).all(axis=1)
    return in_list & inside


def _opening_angle_deg(events: ak.Array, cut: Cut) -> Any:
    plus = np.stack([_column(events, f"ep_p{a}", cut) for a in "xyz"], axis=1)
    minus = np.stack([_column(events, f"em_p{a}", cut) for a in "xyz"], axis=1)
    norm = np.linalg.norm(plus, axis=1) * np.linalg.norm(minus, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.einsum("ij,ij->i", plus, minus) / norm
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _cos_theta_n(events: ak.Array, cut: Cut) -> Any:
    p = np.stack([_column(events, f"hnl_p{a}", cut) for a in "xyz"], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return p[:, 2] / np.linalg.norm(p, axis=1)


def _cut_mask(events: ak.Array, cut: Cut, metadata: Mapping[str, Any], where: str) -> BoolArray:
    """Evaluate one cut on every event; NaN quantities (zero momenta) fail."""
    if cut.kind == "fiducial_volume":
        mask = _fiducial_mask(events, cut, metadata, where)
    elif cut.kind == "opening_angle_max":
        mask = _opening_angle_deg(events, cut) < float(cut.params["deg"])
    elif cut.kind == "cos_theta_n_min":
        mask = _cos_theta_n(events, cut) > float(cut.params["value"])
    elif cut.kind == "pair_energy_min":
        energy = _column(events, "ep_e", cut) + _column(events, "em_e", cut)
        mask = energy > float(cut.params["gev"])
    else:  # load() rejects unknown cuts; a hand-built Cut may still carry one
        msg = f"selection {where}: cuts[{cut.index}] has unknown cut {cut.kind!r}"
        raise InputError(msg)
    return np.asarray(mask, dtype=bool)


def apply(
    events: ak.Array,
    metadata: Mapping[str, Any],
    selection: Selection,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> Selected:
    """Apply a selection to an ntuple's events, column-wise.

    Args:
        events: the ntuple's events (flat record array, see README "The ntuple"); needs
            ``weight`` [1/POT] and the branches the cuts read.
        metadata: the ntuple's metadata; uses ``detector``, ``mass_gev`` [GeV] and
            ``fiducial_volumes`` (list of ``{name, centre_m, widths_m}`` [m]).
        selection: from :func:`load`.
        data_dir: the data folder holding the efficiency table.

    Returns:
        The passing events with ``weight_selected = weight * efficiency`` [1/POT], the cut
        flow (all events, after each cut, after the efficiency; weighted sums per POT,
        BR(ee) not included), the efficiency and the pass mask.

    Raises:
        InputError: the ntuple's detector differs from the selection's, a fiducial volume
            of the selection is not in the ntuple's metadata, a branch or metadata key is
            missing.
        DataFileError: the efficiency table is missing, modified or malformed.
    """
    where = selection.name
    detector = metadata.get("detector")
    if detector != selection.detector:
        msg = (
            f"ntuple is for {detector}, selection is for {selection.detector} "
            f"(selection {where}); choose a selection for {detector}"
        )
        raise InputError(msg)
    if "mass_gev" not in metadata:
        msg = "ntuple metadata has no 'mass_gev'"
        raise InputError(msg)
    preset = metadata.get("preset")
    if preset is not None and preset != selection.preset:
        log.info(
            "selection %s (%s analysis) applied to a %s-preset ntuple",
            where, selection.preset, preset,
        )
    if "weight" not in events.fields:
        msg = "ntuple lacks branch 'weight'"
        raise InputError(msg)
    weight = np.asarray(ak.to_numpy(events["weight"]), dtype=float)
    # Every cut is evaluated (and every name checked) before any event is dropped.
    masks = [_cut_mask(events, cut, metadata, where) for cut in selection.cuts]
    eff = efficiency(
        metadata["mass_gev"],
        data_dir,
        table=selection.efficiency.table,
        resample_grid_mev=selection.efficiency.resample_grid_mev,
    )
    passing = np.ones(len(weight), dtype=bool)
    rows = [CutflowRow("all events", int(passing.sum()), float(weight.sum()))]
    for cut, mask in zip(selection.cuts, masks, strict=True):
        passing &= mask
        rows.append(CutflowRow(cut.label, int(passing.sum()), float(weight[passing].sum())))
    final = float(weight[passing].sum()) * eff
    rows.append(CutflowRow(f"efficiency x {eff:.4g}", int(passing.sum()), final))
    chosen = events[passing]
    chosen = ak.with_field(chosen, weight[passing] * eff, "weight_selected")
    log.info(
        "selection %s at m_N = %g GeV: %d of %d events pass, efficiency %.4g, "
        "%.4e selected decays per POT (before BR(ee))",
        where, float(metadata["mass_gev"]), rows[-1].raw, rows[0].raw, eff, final,
    )
    return Selected(events=chosen, cutflow=rows, efficiency=eff, mask=passing,
                    selection=selection)


def cutflow_table(rows: Sequence[CutflowRow], *, pot: float | None = None) -> str:
    """Format a cut flow as a Markdown table.

    Args:
        rows: the cut flow (from :func:`apply`).
        pot: if given, add a column with the expected events at this exposure [POT].

    Returns:
        The table, one line per row plus a header, with the raw count, the weighted sum
        [1/POT], the fraction of the first row's weighted sum and, optionally, the
        expected events.
    """
    header = ["cut", "events (MC)", "weighted [1/POT]", "fraction"]
    if pot is not None:
        header.append(f"expected at {pot:.4g} POT")
    first = rows[0].weighted_per_pot if rows else 0.0
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---:", "---:", "---:"] + (["---:"] if pot is not None else []))
        + "|",
    ]
    for row in rows:
        fraction = row.weighted_per_pot / first if first > 0 else float("nan")
        cells = [row.cut, str(row.raw), f"{row.weighted_per_pot:.4e}", f"{fraction:.4g}"]
        if pot is not None:
            cells.append(f"{row.weighted_per_pot * pot:.4g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
