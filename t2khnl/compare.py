"""The walk from the published configuration to the corrected one, one change at a time.

``walk.yaml`` lists the steps: each sets a few preset keys on top of the previous
step, starting from ``published``; after the last step the preset equals ``corrected``.
Each step is a :class:`~t2khnl.config.Preset` value (no file). :func:`run` runs a mass
scan of every step (resumable, like ``t2khnl scan``), and :func:`markdown` tabulates what
each change does to the contour and to the MiniBooNE verdict.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from . import config, headlines, scan
from .config import Preset
from .errors import InputError
from .scanrecords import ContourRecord
from .scanstore import ScanStore


@dataclass(frozen=True)
class Step:
    """One configuration of the walk.

    Attributes:
        name: what this step changed (the start's name for step 0).
        why: the reason for the change.
        preset: the full preset after the change.
        evidence: where the change is shown: the authors' file and line and/or the
            in-project test (``tests/<file>.py::<test>``); empty for the start.
    """

    name: str
    why: str
    preset: Preset
    evidence: str = ""


@dataclass(frozen=True)
class StepResult:
    """A step with its scan folder and headline numbers.

    Attributes:
        step: the configuration.
        scan_dir: its scan folder.
        records: the finished masses (``contour.json`` records).
        windows_mev: world-leading mass windows [MeV].
        miniboone: :func:`t2khnl.headlines.miniboone_verdict` of the scan.
    """

    step: Step
    scan_dir: Path
    records: list[ContourRecord]
    windows_mev: list[tuple[float, float]]
    miniboone: headlines.MiniBooNEVerdict


def _walk_spec() -> dict[str, Any]:
    return yaml.safe_load(resources.files(__package__).joinpath("walk.yaml").read_text())


def steps() -> list[Step]:
    """The walk: the starting preset, then one :class:`Step` per change, in order.

    Raises:
        InputError: a step sets a key the preset schema does not know or cites no evidence,
            or the walk does not end at its ``end`` preset.
    """
    spec = _walk_spec()
    current = config.load(spec["start"])
    out = [Step(spec["start"], "the configuration arXiv:2412.15051's authors ran", current)]
    for index, entry in enumerate(spec["steps"], start=1):
        unknown = set(entry["set"]) - set(current.settings())
        if unknown:
            msg = f"walk step {index} ({entry['name']}) sets unknown keys {sorted(unknown)}"
            raise InputError(msg)
        evidence = " ".join(str(entry.get("evidence") or "").split())
        if not evidence:
            msg = f"walk step {index} ({entry['name']}) cites no evidence"
            raise InputError(msg)
        current = current.with_settings({
            **entry["set"], "name": f"walk-{index}-{_slug(entry['name'])}",
            "description": f"{spec['start']} up to step {index} of walk.yaml "
                           f"({entry['name']})",
        })
        out.append(Step(entry["name"], " ".join(entry["why"].split()), current, evidence))
    end = config.load(spec["end"])
    if current.settings() != end.settings():
        now, wanted = current.settings(), end.settings()
        differ = sorted(k for k in wanted if now.get(k) != wanted[k])
        msg = f"walk.yaml does not end at {spec['end']!r}: differs in {differ}"
        raise InputError(msg)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run(
    output_dir: str | os.PathLike[str],
    masses: list[float] | str,
    *,
    detector: str = "nd280",
    n_events: int = 20000,
    seed: int = 1,
    workers: int = 1,
    data_dir: str | None = None,
    progress: bool = True,
) -> list[StepResult]:
    """Scan every step of the walk into ``scans/step<i>/``.

    Args:
        output_dir: the walk folder (resumable: rerun to continue).
        masses: masses [GeV] or a :func:`t2khnl.masses.parse_masses` specification.
        detector: the detector whose contour is followed.
        n_events: upscatters per beam and mass.
        seed: scan seed (the same for every step, so steps sharing a geometry share the
            simulated upscatters and their differences are not MC noise).
        workers: local worker processes.
        data_dir: input-data folder.
        progress: progress bars.

    Returns:
        One :class:`StepResult` per step.
    """
    walk = jobs(output_dir, masses, detector=detector, n_events=n_events, seed=seed)
    scan.scan_many(walk, data_dir=data_dir, workers=workers, progress=progress)
    return results(walk, data_dir=data_dir)


def jobs(
    output_dir: str | os.PathLike[str], masses: list[float] | str, *, detector: str = "nd280",
    n_events: int = 20000, seed: int = 1,
) -> list[scan.ScanJob]:
    """The walk's scans, one per step (its :class:`~t2khnl.config.Preset`), for
    :func:`t2khnl.scan.scan_many`; writes nothing. Arguments as :func:`run`.

    The steps of a mass run one after the other in one worker (:func:`t2khnl.scan.group_key`),
    where steps that change only what follows the simulation (BR, cuts, statistics) reuse
    the previous step's events (the group's :class:`t2khnl.generate.SimulationCache`).
    """
    out = Path(output_dir)
    return [scan.ScanJob(detector, masses, out / "scans" / f"step{index}", preset=step.preset,
                         n_events=n_events, seed=seed, precision=None)
            for index, step in enumerate(steps())]



def results(walk: list[scan.ScanJob], *, data_dir: str | None = None) -> list[StepResult]:
    """The finished walk's :class:`StepResult` per step (``walk`` as :func:`jobs` made it)."""
    out = []
    for step, job in zip(steps(), walk, strict=True):
        scan_dir = Path(job.output_dir)
        records = ScanStore(scan_dir).records()
        verdict = headlines.miniboone_verdict(scan_dir, job.detector, job.preset,
                                              data_dir=data_dir)
        out.append(StepResult(step, scan_dir, records, headlines.scan_windows(records), verdict))
    return out


def markdown(results: list[StepResult]) -> str:
    """The walk as a markdown table: d_low per mass (and its ratio to the previous step),
    world-leading windows and the MiniBooNE verdict."""
    masses = [r["mass_gev"] for r in results[0].records]
    head = ["step", "change"] + [f"d_low at {m * 1e3:.4g} MeV" for m in masses] + [
        "world-leading [MeV]", "MiniBooNE CL"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    previous: dict[float, float | None] = {}
    for index, res in enumerate(results):
        by_mass = {r["mass_gev"]: r["d_low"] for r in res.records}
        cells = [str(index), res.step.name]
        for m in masses:
            cells.append(_edge_cell(by_mass.get(m), previous.get(m), index > 0))
        windows = ", ".join(f"{lo:.0f}-{hi:.0f}" for lo, hi in res.windows_mev) or "none"
        cl = res.miniboone.cl
        cells += [windows, "no mass in region" if cl is None else f"{cl:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
        previous = by_mass
    notes = [f"- **{index}. {res.step.name}**: {res.step.why}"
             + (f" Evidence: {res.step.evidence}" if res.step.evidence else "")
             for index, res in enumerate(results)]
    return "\n".join([*lines, "", *notes]) + "\n"


def _edge_cell(d: float | None, before: float | None, compare: bool) -> str:
    if d is None:
        return "none"
    if compare and before:
        return f"{d:.3g} (x{d / before:.3g})"
    return f"{d:.3g}"
