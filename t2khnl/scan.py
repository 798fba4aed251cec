"""Mass scans: the excluded d interval at many masses, resumable, on local or Dask workers.

``t2khnl scan`` runs :func:`t2khnl.limit.run` once per mass and collects the edges of the
excluded interval into a contour. The output folder ``DIR`` holds

=================================  ==========================================================
``scan.json``                      the scan's configuration (detector, preset, events, seed,
                                   POT, masses, t2khnl version); a rerun must match it
``masses/m<mass>/``                every artefact of :func:`t2khnl.limit.run` at one mass
``masses/m<mass>.json``            the per-mass result, written atomically when the mass is
                                   finished; its existence marks the mass as done
``contour.csv``, ``contour.json``  the contour so far (rewritten atomically after each mass)
``scan.log``                       the scan's log
=================================  ==========================================================

Folder names are ``m`` + the mass [GeV] with 3 integer and 6 decimal digits
(``m000.470000``), so they sort by mass. Rerunning the same command skips finished masses;
masses that :func:`t2khnl.limit.run` rejects (:class:`~t2khnl.errors.InputError`, e.g.
heavier than the flux reaches) are recorded as skipped with the reason.

Each mass gets its own seed, derived from the scan seed and the mass's index in the sorted
mass list (:func:`mass_seeds`), so the same command gives identical contour files whatever
the executor and the order in which masses finish.

MC error on an edge (:func:`edge_errors`). Near an edge d_e the exclusion criterion is
essentially a fixed total signal S(d_e) = S_crit, so a relative MC error ε on S moves the
edge by δ ln d = ε / |d ln S / d ln d|::

    δd = d_e · ε(d_e) / |s(d_e)|,
    ε(d) = sqrt(Σ_i w_i(d)²) / Σ_i w_i(d),
    s(d) = [ln S(d·e^h) − ln S(d·e^−h)] / (2h),  h = 0.01,

with w_i(d) = reweight_i(d) · efficiency_c · POT_c [events] over the selected events i of
both beams c (read back from ``selected_{fhc,rhc}.root``) and S(d) = Σ_i w_i(d); BR(ee) is
common to all events and cancels. It ignores the (smaller) MC error on the efficiency and
the per-channel structure of the CLs (exact for zero background).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures import as_completed as futures_as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

# tqdm before anything imports siren (see t2khnl.cli).
from tqdm import tqdm

from . import __version__, files
from .errors import ClusterError, DataFileError, InputError

log = logging.getLogger(__name__)

#: Columns of ``contour.csv``, in order.
CONTOUR_COLUMNS = ("mass_gev", "d_low", "d_high", "d_low_err", "d_high_err")
#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 20.0
#: Step in ln d [dimensionless] of the finite-difference slope of ln S.
SLOPE_STEP = 0.01
#: Adaptive effort: the events per beam grow at most by this factor.
MAX_EVENTS_FACTOR = 32
#: Default target relative MC error δd/d on the edges, and the first attempt's events per beam.
DEFAULT_PRECISION = 0.03
DEFAULT_EVENTS = 5000
#: Per-mass seeds stay below this: the generator seeds SIREN with (seed·100 + box)·100 + layer,
#: which SIREN_random takes as a 32-bit unsigned integer.
MAX_MASS_SEED = 429_000
#: Significant digits masses are rounded to (so that they name folders unambiguously).
MASS_DIGITS = 6

_SPEC = re.compile(r"^\s*([^:]+):([^:]+):\s*(\d+)\s*(log|lin)\s*$")
_Runner = Callable[..., dict[str, Any]]


def parse_masses(spec: str) -> list[float]:
    """Masses [GeV] from ``lo:hi:Nlog``, ``lo:hi:Nlin`` or a comma-separated list.

    ``lo:hi:Nlog`` gives N masses evenly spaced in log between lo and hi (both included),
    ``Nlin`` evenly spaced in mass. Masses are rounded to 6 significant digits, sorted and
    must be distinct.

    Args:
        spec: the mass specification [GeV], e.g. ``"0.01:2.0:48log"`` or ``"0.1,0.3,0.5"``.

    Returns:
        The sorted masses [GeV].

    Raises:
        InputError: unparsable, empty or reversed range, non-positive or duplicate masses.
    """
    text = spec.strip()
    match = _SPEC.match(text)
    if match:
        lo, hi = (_number(match.group(i), spec) for i in (1, 2))
        n, kind = int(match.group(3)), match.group(4)
        if n < 1:
            msg = f"mass range {spec!r} is empty: it asks for {n} masses"
            raise InputError(msg)
        if not (lo > 0 and hi > 0):
            msg = f"mass range {spec!r} must have positive ends [GeV]"
            raise InputError(msg)
        if hi < lo or (hi == lo and n > 1):
            msg = f"mass range {spec!r} is reversed or empty: lo must be below hi"
            raise InputError(msg)
        values = np.geomspace(lo, hi, n) if kind == "log" else np.linspace(lo, hi, n)
        masses = [float(v) for v in values]
    elif ":" in text:
        msg = f"cannot parse mass range {spec!r}: expected lo:hi:Nlog, lo:hi:Nlin or a list"
        raise InputError(msg)
    else:
        masses = [_number(part, spec) for part in text.split(",") if part.strip()]
        if not masses:
            msg = f"mass list {spec!r} is empty"
            raise InputError(msg)
        if any(not m > 0 for m in masses):
            msg = f"masses must be positive [GeV], got {spec!r}"
            raise InputError(msg)
    rounded = sorted(float(f"{m:.{MASS_DIGITS}g}") for m in masses)
    labels = [mass_label(m) for m in rounded]
    for a, b, la, lb in zip(rounded, rounded[1:], labels, labels[1:], strict=False):
        if la == lb:
            msg = f"masses {a:g} and {b:g} GeV are the same to 1e-6 GeV; give distinct masses"
            raise InputError(msg)
    return rounded


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError as err:
        msg = f"cannot parse mass {text.strip()!r} in {spec!r}"
        raise InputError(msg) from err
    if not math.isfinite(value):
        msg = f"mass {text.strip()!r} in {spec!r} is not finite"
        raise InputError(msg)
    return value


def mass_label(mass_gev: float) -> str:
    """Folder / file stem of a mass: ``m`` + the mass [GeV] as ``000.000000`` (sortable)."""
    return f"m{mass_gev:010.6f}"


def mass_seed(seed: int, index: int) -> int:
    """The base seed of the ``index``-th mass of a scan with seed ``seed`` (deterministic).

    :func:`mass_seeds` makes the seeds of one scan distinct.

    Args:
        seed: the scan's seed (>= 0).
        index: position of the mass in the sorted mass list.

    Returns:
        A seed in [0, ``MAX_MASS_SEED``).
    """
    state = np.random.SeedSequence(entropy=seed, spawn_key=(index,)).generate_state(1)
    return int(state[0]) % MAX_MASS_SEED


def mass_seeds(seed: int, n_masses: int) -> list[int]:
    """Distinct seeds of the masses of a scan: :func:`mass_seed`, a collision moved up by 1.

    Args:
        seed: the scan's seed (>= 0).
        n_masses: number of masses.

    Returns:
        One seed per mass index, all distinct, each in [0, ``MAX_MASS_SEED``).
    """
    seeds: list[int] = []
    for index in range(n_masses):
        value = mass_seed(seed, index)
        while value in seeds:
            value = (value + 1) % MAX_MASS_SEED
        seeds.append(value)
    return seeds


@dataclass(frozen=True)
class MassTask:
    """One mass of a scan: everything a worker needs (picklable).

    Attributes:
        index: position in the sorted mass list.
        mass_gev: HNL mass [GeV].
        seed: the mass's own seed (:func:`mass_seeds`).
        detector: ``"nd280"`` or ``"upgrade"``.
        preset: ``"corrected"`` or ``"published"``.
        n_events: upscatters injected per beam (first attempt).
        pot_total: total exposure [POT], or None for the preset's.
        data_dir: input-data folder, or None for the default.
        output_dir: the scan folder (``DIR``).
        precision: target relative MC error on the edges (δd/d), or None for one attempt.
        runner: the per-mass analysis, :func:`t2khnl.limit.run` when None; any picklable
            callable with its signature.
        d_range: the range of the scanned couplings [GeV^-1] (None: the default,
            :data:`t2khnl.couplings.D_RANGE_GEV_INV`).
    """

    index: int
    mass_gev: float
    seed: int
    detector: str
    preset: str
    n_events: int
    pot_total: float | None
    data_dir: str | None
    output_dir: str
    precision: float | None = None
    runner: _Runner | None = None
    d_range: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        """Folder / file stem of the mass."""
        return mass_label(self.mass_gev)


def edge_errors(mass_dir: str | os.PathLike[str], summary: dict[str, Any],
                preset: str) -> dict[str, float | None]:
    """MC error [GeV^-1] on each quoted edge of the excluded interval (module docstring).

    Args:
        mass_dir: folder :func:`t2khnl.limit.run` wrote (``selected_{fhc,rhc}.root``).
        summary: its summary (``d_low``, ``d_high`` [GeV^-1], ``pot_fhc``, ``pot_rhc``).
        preset: the preset (whether the weights include survival to the fiducial volume).

    Returns:
        ``{"d_low_err": ..., "d_high_err": ...}`` [GeV^-1]; None where the edge is not
        quoted, is the end of the scanned grid, or the signal is flat or empty there.

    Raises:
        DataFileError: a selected ntuple is missing or unreadable.
    """
    from . import config, limit

    # an open edge is the end of the scanned grid, not a limit: it has no MC error
    edges = {name: None if summary.get(f"{name}_open") else summary.get(name)
             for name in ("d_low", "d_high")}
    out: dict[str, float | None] = {f"{name}_err": None for name in edges}
    if all(d is None for d in edges.values()):
        return out
    cfg = config.load(preset)
    channels = limit.load_channels(mass_dir, summary)

    def weights(d: float) -> np.ndarray:
        return limit.event_yields(channels, d, cfg)

    for name, d in edges.items():
        if d is None:
            continue
        w = weights(d)
        total = float(w.sum())
        up, down = float(weights(d * math.exp(SLOPE_STEP)).sum()), float(
            weights(d * math.exp(-SLOPE_STEP)).sum())
        if not (total > 0 and up > 0 and down > 0):
            continue
        rel = math.sqrt(float(np.sum(w * w))) / total
        slope = (math.log(up) - math.log(down)) / (2 * SLOPE_STEP)
        if slope != 0 and math.isfinite(slope):
            out[f"{name}_err"] = d * rel / abs(slope)
    return out


def run_mass(task: MassTask) -> dict[str, Any]:
    """Run one mass, write its per-mass result atomically, and return it.

    Runs in the worker. An :class:`~t2khnl.errors.InputError` from the analysis (e.g. a
    mass the flux cannot produce) gives a ``"skipped"`` result with the reason; with
    ``task.precision`` more events are added until every edge's MC error is below
    ``precision * d`` and no edge is refused for want of effective events
    (:func:`_variance_needs`): with new seeds, in the injection strata that the events so
    far say need them, as many as those strata's MC variances predict
    (:func:`t2khnl.allocation.next_attempt`, up to :data:`MAX_EVENTS_FACTOR` times the first
    attempt's in all), pooled
    with the earlier attempts' events (:func:`t2khnl.generate.pool`).

    Args:
        task: the mass.

    Returns:
        The per-mass result (also in ``DIR/masses/m<mass>.json``): ``mass_gev`` [GeV],
        ``status`` (``"done"`` or ``"skipped"``), ``reason``, the edges and their MC errors
        [GeV^-1], ``n_events`` used, ``seed``, ``summary`` and ``elapsed_s`` [s].
    """
    from . import allocation as allocation_module

    runner = task.runner
    if runner is None:
        from . import limit

        runner = limit.run
    masses_dir = Path(task.output_dir) / "masses"
    mass_dir = masses_dir / task.label
    mass_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(mass_dir / "run.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    package_log = logging.getLogger("t2khnl")
    package_log.addHandler(handler)
    start = time.perf_counter()
    result: dict[str, Any] = {
        "index": task.index, "mass_gev": task.mass_gev, "label": task.label,
        "seed": task.seed, "status": "done", "reason": None, "n_events": task.n_events,
    }
    try:
        samples: dict[str, Any] = {}  # the runner's pooled simulations, by beam
        n_new, total, attempt = task.n_events, 0, 0
        cap = task.n_events * MAX_EVENTS_FACTOR
        allocation = None
        while True:
            try:
                summary = runner(
                    task.detector, task.mass_gev, preset=task.preset, n_events=n_new,
                    pot_total=task.pot_total, seed=_attempt_seed(task.seed, attempt, samples),
                    data_dir=task.data_dir, output_dir=mass_dir, t2k_backgrounds=None,
                    flux_xsec=None, allocation=allocation, samples=samples, progress=None,
                    d_range=task.d_range,
                )
            except InputError as err:
                log.warning("skipping m_N = %g GeV: %s", task.mass_gev, err)
                result.update(status="skipped", reason=str(err))
                break
            # a runner that keeps no samples (a stand-in) analysed the new events alone
            total = total + n_new if samples else n_new
            errors = edge_errors(mass_dir, summary, task.preset)
            result.update(n_events=total, **_edges(summary), **errors, summary=summary)
            needs = _variance_needs(summary, errors, task.precision)
            if not needs or total >= cap:
                break
            following, allocation = allocation_module.next_attempt(
                mass_dir, summary, task.preset, needs=needs, n_made=total, n_cap=cap,
                pooled=bool(samples))
            n_new = following - total if samples else following
            attempt += 1
            log.info("m_N = %g GeV: edges short of the precision target %.3g, %d -> %d events "
                     "per beam", task.mass_gev, task.precision, total, following)
    finally:
        package_log.removeHandler(handler)
        handler.close()
    result["elapsed_s"] = time.perf_counter() - start
    files.write_text(masses_dir / f"{task.label}.json", json.dumps(result, indent=2) + "\n")
    return result


def _attempt_seed(seed: int, attempt: int, samples: dict[str, Any]) -> int:
    """The seed of a mass's attempt: the mass's own first, then, when the new events are
    pooled with the earlier ones, an independent one per attempt (:func:`mass_seed`)."""
    return seed if attempt == 0 or not samples else mass_seed(seed, attempt)


def _variance_needs(summary: dict[str, Any], errors: dict[str, float | None],
                    precision: float | None) -> dict[str, float]:
    """Per edge short of ``precision`` (δd/d), the factor by which its MC variance must fall;
    empty when every edge meets it (or no target is set).

    A quoted edge needs (error / target)^2, one refused for n_eff < 50 needs 50 / n_eff
    (n_eff = S² / Σw²). An open edge (the end of the coupling grid, excluded) is not
    chased: its value is the grid's, not an estimate, and at low masses the prompt decays
    that exclude d = 1e-3 GeV^-1 by orders of magnitude rest on a few dozen effective events
    whatever the sample size (a contour draws a lower edge without an upper one up to the
    top of the plane anyway).
    """
    from .limit import MIN_N_EFF

    needs: dict[str, float] = {}
    if precision is None:
        return needs
    for edge in ("d_low", "d_high"):
        error = errors.get(f"{edge}_err")
        if error is not None and error > precision * summary[edge]:
            needs[edge] = (error / (precision * summary[edge])) ** 2
        n_eff = (summary.get("n_eff") or {}).get(edge)
        refused = (summary.get("refused") or {}).get(edge)
        if refused and n_eff is not None and not summary.get(f"{edge}_open"):
            needs[edge] = max(needs.get(edge, 0.0), MIN_N_EFF / max(n_eff, 1.0))
    return needs


def _edges(summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "d_low": summary.get("d_low"), "d_high": summary.get("d_high"),
        "d_low_open": summary.get("d_low_open"), "d_high_open": summary.get("d_high_open"),
        "refused": summary.get("refused"), "intervals": summary.get("intervals"),
    }


def scan_config(detector: str, masses: list[float], *, preset: str, n_events: int, seed: int,
                pot_total: float | None, precision: float | None,
                d_range: tuple[float, float] | None = None) -> dict[str, Any]:
    """The configuration a scan folder is bound to (``scan.json``); ``d_range_gev_inv``
    appears only when the coupling range is not the default (folders of earlier versions
    stay valid)."""
    from . import config

    config_dict: dict[str, Any] = {
        "detector": detector, "preset": preset, "n_events": n_events, "seed": seed,
        "pot_total": pot_total, "masses_gev": masses, "t2khnl_version": __version__,
    }
    if precision is not None:
        config_dict["precision"] = precision
    if d_range is not None:
        config_dict["d_range_gev_inv"] = list(d_range)
    if config.is_preset_file(preset):
        # a preset file may change under the same name: bind the folder to its content
        config_dict["preset_sha256"] = hashlib.sha256(Path(preset).read_bytes()).hexdigest()
    return config_dict


def _bind_folder(out: Path, wanted: dict[str, Any], force: bool) -> None:
    """Write ``scan.json``, or check that the folder's holds the same configuration."""
    path = out / "scan.json"
    if path.exists():
        try:
            held = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            msg = f"cannot read {path}: {err}"
            raise DataFileError(msg) from err
        if held != wanted:
            if not force:
                diff = sorted(k for k in set(held) | set(wanted) if held.get(k) != wanted.get(k))
                msg = (f"output folder {out} holds another configuration (differs in "
                       f"{', '.join(diff)}); use --force to discard its results")
                raise InputError(msg)
            log.warning("--force: discarding the results of another configuration in %s", out)
            shutil.rmtree(out / "masses", ignore_errors=True)
            for name in ("contour.csv", "contour.json"):
                (out / name).unlink(missing_ok=True)
    files.write_text(path, json.dumps(wanted, indent=2) + "\n")


def _finished(out: Path, tasks: list[MassTask]) -> dict[int, dict[str, Any]]:
    """Per-mass results already on disk, by mass index (unreadable ones are redone)."""
    done = {}
    for task in tasks:
        path = out / "masses" / f"{task.label}.json"
        if not path.exists():
            continue
        try:
            done[task.index] = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("cannot read %s; recomputing m_N = %g GeV", path, task.mass_gev)
    return done


def _csv_field(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def write_contour(out: Path, config_dict: dict[str, Any],
                  results: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite ``contour.csv`` and ``contour.json`` from the finished masses (atomically).

    ``contour.csv`` has one row per analysed mass, sorted by mass, with the columns
    ``mass_gev`` [GeV], ``d_low``, ``d_high``, ``d_low_err``, ``d_high_err`` [GeV^-1];
    fields are empty where nothing is excluded or an edge is refused. Skipped masses are
    listed, with their reason, only in ``contour.json``, whose records also hold every
    excluded interval of a mass (``intervals`` [GeV^-1]): near the bedrock turnover the
    rock-fed exclusion at small d and the gas-fed one at large d are separate, and
    ``d_low``..``d_high`` spans the hole between them.

    Returns:
        The records of ``contour.json`` (every finished mass, skipped ones included).
    """
    records = []
    for index in sorted(results, key=lambda i: results[i]["mass_gev"]):
        res = results[index]
        records.append({
            "mass_gev": res["mass_gev"],
            **{k: res.get(k) for k in CONTOUR_COLUMNS[1:]},
            "d_low_open": res.get("d_low_open"), "d_high_open": res.get("d_high_open"),
            "refused": res.get("refused"), "intervals": res.get("intervals"),
            "status": res["status"], "reason": res["reason"],
            "n_events": res["n_events"], "seed": res["seed"],
        })
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CONTOUR_COLUMNS)
    for rec in records:
        if rec["status"] == "done":
            writer.writerow([_csv_field(rec[k]) for k in CONTOUR_COLUMNS])
    files.write_text(out / "contour.csv", buffer.getvalue())
    document = {
        "metadata": {
            **config_dict, "columns": list(CONTOUR_COLUMNS),
            "units": {"mass_gev": "GeV", "d": "GeV^-1"},
            "n_masses": len(config_dict["masses_gev"]), "n_finished": len(records),
            "n_skipped": sum(rec["status"] == "skipped" for rec in records),
        },
        "records": records,
    }
    files.write_text(out / "contour.json", json.dumps(document, indent=2) + "\n")
    return records


def write_grid_likelihood(out: Path, detector: str) -> None:
    """Write the likelihood of the whole (m_N, d) grid: ``bkgonly_<detector>.json`` and
    ``patchset_<detector>.json`` (one patch per analysed mass and coupling, pyhf's
    patchset schema; :func:`t2khnl.hepdata.merge_patchsets`), atomically. Nothing is
    written when no mass left a likelihood (all skipped, or a runner that writes none)."""
    from . import counting
    from .hepdata import merge_patchsets, scan_patchset_files

    if not any((out / "masses").glob(f"m*/bkgonly_{detector}.json")):
        return
    bkg_only, patchset = merge_patchsets(scan_patchset_files(out, detector))
    files.write_text(out / f"bkgonly_{detector}.json", counting.workspace_json(bkg_only) + "\n")
    files.write_text(out / f"patchset_{detector}.json", counting.patchset_json(patchset) + "\n")


class TaskFailure(NamedTuple):
    """An unexpected error of one mass in :func:`run_group` (the other masses go on).

    Attributes:
        error: ``repr`` of the exception.
        traceback: its formatted traceback.
    """

    error: str
    traceback: str


def run_group(tasks: Sequence[MassTask]) -> list[dict[str, Any] | TaskFailure]:
    """Run masses one after the other in this process (:func:`run_mass`).

    :func:`scan_many` groups the masses that share SIREN's cross-section objects (same mass
    and channels, :func:`group_key`): t2khnl.generate keeps them per target between calls,
    so the second detector at a mass builds none.

    Args:
        tasks: the masses.

    Returns:
        Per task, its result or the :class:`TaskFailure` that stopped it.

    Raises:
        DataFileError: input data missing or unreadable (the scan stops).
    """
    outcomes: list[dict[str, Any] | TaskFailure] = []
    for task in tasks:
        try:
            outcomes.append(run_mass(task))
        except DataFileError:
            raise
        except Exception as err:  # reported by scan_many; the group's other masses go on
            outcomes.append(TaskFailure(repr(err), traceback.format_exc()))
    return outcomes


def group_key(task: MassTask) -> tuple[float, tuple[str, ...]]:
    """Masses with the same key share SIREN's cross-section objects: mass [GeV], channels."""
    from . import config

    return task.mass_gev, tuple(config.load(task.preset)["channels"])


_Group = list[MassTask]
_Finished = Iterator[tuple[_Group, Any]]


class InProcess(Executor):
    """An executor that runs each submission at once, in this process (one worker)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # raised by Future.result, as a pool would
            future.set_exception(err)
        return future


def _serial(groups: list[_Group]) -> _Finished:
    """Run the groups in this process, one by one, yielding each as a finished future."""
    executor = InProcess()
    for group in groups:
        yield group, executor.submit(run_group, group)


def _on_executor(groups: list[_Group], executor: Executor) -> _Finished:
    """Run the groups on a ``concurrent.futures`` executor, yielding them as they finish."""
    futures = {executor.submit(run_group, group): i for i, group in enumerate(groups)}
    try:
        for future in futures_as_completed(futures):
            yield groups[futures[future]], future
    finally:
        for future in futures:
            future.cancel()


def local_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh interpreters (spawn: never a fork of a process holding
    SIREN's state), for :func:`scan_many` and the work submitted beside it."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _process_pool(groups: list[_Group], workers: int) -> _Finished:
    """Run the groups on a local process pool, yielding them as they finish."""
    with local_pool(workers) as pool:
        yield from _on_executor(groups, pool)


def connect(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S, *,
            scheduler_file: str | os.PathLike[str] | None = None) -> Any:
    """A ``dask.distributed`` client of a scheduler, checked to run t2khnl's tasks.

    Each worker must run one thread (``dask worker --nthreads 1``, or several worker
    processes of one thread each): t2khnl keeps SIREN objects, cross sections and samples
    per process, which tasks in threads of one process would share and overwrite. Workers
    present at connect time are checked here; one that joins later is checked by the
    first task it runs (:func:`run_group_on_dask`).

    Args:
        address: scheduler address, e.g. ``tcp://host:8786`` (or None with
            ``scheduler_file``).
        timeout_s: how long to wait for the scheduler file to appear and for the scheduler
            to answer [s].
        scheduler_file: the JSON file ``dask scheduler --scheduler-file`` writes; its
            ``address`` is used.

    Returns:
        The connected ``distributed.Client``.

    Raises:
        InputError: dask.distributed is not installed, the scheduler file does not appear
            or holds no address, or no scheduler answers in time.
        ClusterError: a worker runs more than one thread.
    """
    try:
        from distributed import Client
    except ImportError as err:
        msg = "--scheduler needs dask.distributed: pip install 'dask[distributed]'"
        raise InputError(msg) from err
    if scheduler_file is not None:
        address = _scheduler_address(Path(scheduler_file), timeout_s)
    try:
        client = Client(address, timeout=f"{timeout_s}s")
    except (OSError, TimeoutError, ValueError) as err:
        msg = f"cannot reach the Dask scheduler at {address} within {timeout_s:g} s: {err}"
        raise InputError(msg) from err
    try:
        check_single_threaded(client.nthreads())
    except ClusterError:
        client.close()
        raise
    return client


def _scheduler_address(path: Path, timeout_s: float) -> str:
    """The ``address`` of a Dask scheduler file, waiting up to ``timeout_s`` [s] for it (a
    batch job may not have started the scheduler yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            address = json.loads(path.read_text()).get("address")
        except FileNotFoundError:
            address = None
        except (OSError, ValueError, AttributeError) as err:
            msg = f"cannot read the Dask scheduler file {path}: {err}"
            raise InputError(msg) from err
        else:
            if not isinstance(address, str):
                msg = f"{path} is not a Dask scheduler file: it has no 'address'"
                raise InputError(msg)
        if address:
            return address
        if time.monotonic() > deadline:
            msg = (f"the Dask scheduler file {path} did not appear within {timeout_s:g} s "
                   "(start the scheduler with dask scheduler --scheduler-file PATH)")
            raise InputError(msg)
        time.sleep(0.2)


def check_single_threaded(nthreads: dict[str, int]) -> None:
    """Refuse workers with more than one thread (``{worker address: threads}``).

    Raises:
        ClusterError: names the workers and how to start them.
    """
    crowded = {worker: n for worker, n in sorted(nthreads.items()) if n != 1}
    if crowded:
        listed = ", ".join(f"{worker} ({n} threads)" for worker, n in crowded.items())
        msg = (f"Dask worker(s) {listed}: t2khnl needs one thread per worker process (its "
               "caches are per process); start workers with dask worker --nthreads 1 "
               "(several processes per node: --nworkers N --nthreads 1)")
        raise ClusterError(msg)


def run_group_on_dask(tasks: Sequence[MassTask]) -> list[dict[str, Any] | TaskFailure]:
    """:func:`run_group` in a Dask worker, after checking that the worker runs one thread
    (workers that joined after :func:`connect` checked the others).

    Raises:
        ClusterError: the worker runs more than one thread.
    """
    from distributed import get_worker

    worker = get_worker()
    check_single_threaded({worker.address: worker.state.nthreads})
    return run_group(tasks)


def _dask(groups: list[_Group], client: Any) -> _Finished:
    """Run the groups on a Dask cluster, yielding them as they finish."""
    from distributed import as_completed

    def key(group: _Group) -> str:
        names = "|".join(f"{t.output_dir}/{t.label}/{t.seed}" for t in group)
        return f"t2khnl-scan-{group[0].label}-{hashlib.sha256(names.encode()).hexdigest()[:16]}"

    futures = {client.submit(run_group_on_dask, group, pure=False, key=key(group)): i
               for i, group in enumerate(groups)}
    try:
        for future in as_completed(list(futures)):
            yield groups[futures[future]], future
    finally:
        client.cancel(list(futures))


@dataclass(frozen=True)
class ScanJob:
    """One scan of :func:`scan_many`: a detector and preset over masses, into a folder.

    Attributes (as the arguments of :func:`scan`):
        detector: ``"nd280"`` or ``"upgrade"``.
        masses: masses [GeV] or a specification for :func:`parse_masses`.
        output_dir: the scan folder.
        preset: preset name or file.
        n_events: upscatters per beam at each mass's first attempt.
        pot_total: total exposure [POT] (None: the preset's).
        seed: scan seed.
        precision: target relative MC error on the edges (None: one attempt per mass).
        runner: the per-mass analysis (None: :func:`t2khnl.limit.run`).
        d_range: range of the scanned couplings [GeV^-1] (None: the default).
    """

    detector: str
    masses: list[float] | str
    output_dir: str | os.PathLike[str]
    preset: str = "corrected"
    n_events: int = DEFAULT_EVENTS
    pot_total: float | None = None
    seed: int = 1
    precision: float | None = DEFAULT_PRECISION
    runner: _Runner | None = None
    d_range: tuple[float, float] | None = None


def scan(
    detector: str,
    masses: list[float] | str,
    *,
    output_dir: str | os.PathLike[str],
    preset: str = "corrected",
    n_events: int = DEFAULT_EVENTS,
    pot_total: float | None = None,
    seed: int = 1,
    data_dir: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    force: bool = False,
    precision: float | None = DEFAULT_PRECISION,
    runner: _Runner | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    progress: bool = True,
    d_range: tuple[float, float] | None = None,
    scheduler_file: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Scan masses: the excluded d interval at each, resumable, serial / pool / Dask.

    Args:
        detector: ``"nd280"`` or ``"upgrade"``.
        masses: masses [GeV] or a specification for :func:`parse_masses`.
        output_dir: the scan folder (created if needed).
        preset: ``"corrected"`` or ``"published"``.
        n_events: upscatters injected per beam at each mass's first attempt.
        pot_total: total exposure [POT] (default: the preset's).
        seed: scan seed (>= 0); each mass gets its own (:func:`mass_seeds`).
        data_dir: input-data folder (default: ``$T2KHNL_DATA_DIR``, else the packaged data).
        workers: local worker processes; 1 runs the masses in this process.
        scheduler: address of a Dask scheduler (``tcp://host:8786``); overrides ``workers``.
        force: discard the results of another configuration in ``output_dir``.
        precision: target relative MC error δd/d on the edges (default 0.03): a mass is
            rerun with more events (up to :data:`MAX_EVENTS_FACTOR` times ``n_events``)
            until it is met. None: one run per mass with ``n_events``.
        runner: the per-mass analysis (default :func:`t2khnl.limit.run`); must be
            picklable by reference for workers and importable on Dask workers.
        connect_timeout_s: how long to wait for the Dask scheduler [s].
        progress: show a progress bar over masses (stderr).
        d_range: range of the scanned couplings [GeV^-1] (default
            :data:`t2khnl.couplings.D_RANGE_GEV_INV`).
        scheduler_file: a Dask scheduler file (``dask scheduler --scheduler-file``, as
            batch systems start Dask); overrides ``workers``, excludes ``scheduler``.

    Writes ``masses/m<mass>.json`` (and the limit step's folder) per mass, ``contour.csv``
    and ``contour.json`` after each, ``scan.log``, and once every mass is done the whole
    grid's likelihood (:func:`write_grid_likelihood`).

    Returns:
        The contour records (as in ``contour.json``), sorted by mass.

    Raises:
        InputError: bad arguments, another configuration in ``output_dir`` without
            ``force``, an unreachable scheduler, or masses that failed unexpectedly (their
            errors are logged; rerun to retry them).
        DataFileError: input data missing or unreadable (the scan stops).
    """
    job = ScanJob(detector, masses, output_dir, preset=preset, n_events=n_events,
                  pot_total=pot_total, seed=seed, precision=precision, runner=runner,
                  d_range=d_range)
    (records,) = scan_many([job], data_dir=data_dir, workers=workers, scheduler=scheduler,
                           scheduler_file=scheduler_file, force=force,
                           connect_timeout_s=connect_timeout_s, progress=progress)
    return records


@dataclass
class _Prepared:
    """A job's folder, configuration, tasks, finished results, the masses it had still to
    run when :func:`scan_many` started, and the masses that failed."""

    out: Path
    config: dict[str, Any]
    tasks: list[MassTask]
    results: dict[int, dict[str, Any]]
    pending: list[MassTask]
    failed: list[float]


def scan_many(
    jobs: Sequence[ScanJob],
    *,
    data_dir: str | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    scheduler_file: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
    force: bool = False,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    progress: bool = True,
) -> list[list[dict[str, Any]]]:
    """Run several scans on the same workers, each into its own folder as :func:`scan` does.

    The masses of all jobs that share SIREN's cross-section objects (:func:`group_key`: the
    two detectors of a preset at one mass) run one after the other in one worker
    (:func:`run_group`), which builds the objects once. Every job is checked, and the Dask
    scheduler reached, before any folder is written.

    Args:
        jobs: the scans.
        data_dir: input-data folder.
        workers: local worker processes; 1 runs the masses in this process.
        scheduler: address of a Dask scheduler; overrides ``workers``.
        scheduler_file: a Dask scheduler file, instead of ``scheduler``.
        executor: a ``concurrent.futures`` executor to run on (e.g. :func:`local_pool`,
            shared with other work); overrides ``workers`` and the scheduler.
        force: discard the results of another configuration in a job's folder.
        connect_timeout_s: how long to wait for the Dask scheduler [s].
        progress: show a progress bar over all jobs' masses (stderr).

    Returns:
        Per job, its contour records (as in ``contour.json``), sorted by mass.

    Raises:
        InputError: as :func:`scan`, for any job (failed masses are listed per folder).
        ClusterError: the Dask cluster cannot run the masses (a worker with several threads).
        DataFileError: input data missing or unreadable (the scans stop).
    """
    if not (isinstance(workers, int) and workers >= 1):
        msg = f"--workers must be at least 1, got {workers!r}"
        raise InputError(msg)
    if scheduler and scheduler_file:
        msg = "give --scheduler or --scheduler-file, not both"
        raise InputError(msg)
    folders = [str(Path(job.output_dir).resolve()) for job in jobs]
    if len(set(folders)) != len(folders):  # before any folder is bound to a configuration
        msg = "scan_many needs one output folder per job"
        raise InputError(msg)
    checked = [_check(job, data_dir) for job in jobs]
    with contextlib.ExitStack() as stack:
        client = None
        if executor is None and (scheduler or scheduler_file):
            client = connect(scheduler, connect_timeout_s, scheduler_file=scheduler_file)
            stack.callback(client.close)
        prepared = [_bind(job, data_dir, force) for job in checked]
        for job in prepared:
            stack.enter_context(_scan_log(job.out))
        where = (f"scheduler {scheduler or scheduler_file}" if client is not None
                 else f"{workers} worker(s)")
        groups: dict[tuple[float, tuple[str, ...]], _Group] = {}
        for job in prepared:
            log.info("scan of %d masses in %s: %d finished, %d to run (%s)", len(job.tasks),
                     job.out, len(job.results), len(job.pending), where,
                     extra={"scan_dir": job.out})
            write_contour(job.out, job.config, job.results)
            for task in job.pending:
                groups.setdefault(group_key(task), []).append(task)
        _execute(list(groups.values()), dict(zip(folders, prepared, strict=True)),
                 workers=workers, client=client, executor=executor, progress=progress,
                 total=sum(len(job.tasks) for job in prepared))
        for job in prepared:
            grid = job.out / f"patchset_{job.config['detector']}.json"
            if len(job.results) == len(job.tasks) and (job.pending or not grid.is_file()):
                write_grid_likelihood(job.out, job.config["detector"])  # ~2 s for 48 masses
            log.info("scan finished: %d of %d masses done, %d failed", len(job.results),
                     len(job.tasks), len(job.failed), extra={"scan_dir": job.out})
            for line in open_edges(list(job.results.values())).lines(
                    job.config.get("d_range_gev_inv")):
                log.info("%s", line, extra={"scan_dir": job.out})
    failures = [f"{len(job.failed)} mass(es) failed ({', '.join(f'{m:g}' for m in job.failed)} "
                f"GeV; see {job.out / 'scan.log'})" for job in prepared if job.failed]
    if failures:
        msg = "; ".join(failures) + "; rerun the same command to retry them"
        raise InputError(msg)
    return [write_contour(job.out, job.config, job.results) for job in prepared]


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


def open_edges(records: Sequence[dict[str, Any]]) -> OpenEdges:
    """The masses of finished per-mass results (or contour records) with an open edge."""
    done = sorted((rec for rec in records if rec.get("status") == "done"),
                  key=lambda rec: rec["mass_gev"])
    return OpenEdges([rec["mass_gev"] for rec in done if rec.get("d_low_open")],
                     [rec["mass_gev"] for rec in done if rec.get("d_high_open")])


def _mass_span(masses: list[float]) -> str:
    return f"{masses[0]:g}" if len(masses) == 1 else f"{masses[0]:g}-{masses[-1]:g}"


class _Checked(NamedTuple):
    """A job :func:`_check` accepted, with its masses [GeV] and configuration."""

    job: ScanJob
    masses: list[float]
    config: dict[str, Any]


def _check(job: ScanJob, data_dir: str | None) -> _Checked:
    """Check a job's arguments and input data, writing nothing."""
    from . import config
    from .flux import load_beam_flux

    config.check_choice("detector", job.detector, config.DETECTORS)
    config.load(job.preset)
    mass_list = parse_masses(job.masses) if isinstance(job.masses, str) else parse_masses(
        ",".join(repr(float(m)) for m in job.masses))
    if not (isinstance(job.n_events, int) and job.n_events > 0):
        msg = f"--events must be a positive integer, got {job.n_events!r}"
        raise InputError(msg)
    if not (isinstance(job.seed, int) and job.seed >= 0):
        msg = f"--seed must be a non-negative integer, got {job.seed!r}"
        raise InputError(msg)
    if job.pot_total is not None and not job.pot_total > 0:
        msg = f"--pot must be positive, got {job.pot_total}"
        raise InputError(msg)
    if job.precision is not None and not job.precision > 0:
        msg = f"--precision must be positive, got {job.precision}"
        raise InputError(msg)
    if job.d_range is not None:
        from .couplings import parse_d_range

        parse_d_range(":".join(repr(float(d)) for d in job.d_range))
    for beam in config.BEAMS:
        load_beam_flux(beam, data_dir)
    config_dict = scan_config(job.detector, mass_list, preset=job.preset, n_events=job.n_events,
                              seed=job.seed, pot_total=job.pot_total, precision=job.precision,
                              d_range=job.d_range)
    return _Checked(job, mass_list, config_dict)


def _bind(checked: _Checked, data_dir: str | None, force: bool) -> _Prepared:
    """Bind a checked job's folder (``scan.json``) and read the masses it has finished."""
    job = checked.job
    out = Path(job.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    folder = str(out.resolve())
    _bind_folder(out, checked.config, force)
    (out / "masses").mkdir(exist_ok=True)
    seeds = mass_seeds(job.seed, len(checked.masses))
    tasks = [
        MassTask(index=i, mass_gev=m, seed=seeds[i], detector=job.detector,
                 preset=job.preset, n_events=job.n_events, pot_total=job.pot_total,
                 data_dir=data_dir, output_dir=folder, precision=job.precision,
                 runner=job.runner, d_range=job.d_range)
        for i, m in enumerate(checked.masses)
    ]
    results = _finished(out, tasks)
    pending = [task for task in tasks if task.index not in results]
    return _Prepared(out, checked.config, tasks, results, pending, [])


def _execute(groups: list[_Group], jobs: dict[str, _Prepared], *, workers: int,
             client: Any, executor: Executor | None, progress: bool, total: int) -> None:
    """Run the groups, updating each job's results, failures and contour files as each of
    its masses finishes."""
    if not groups:
        return
    with contextlib.ExitStack() as stack:
        if executor is not None:
            finished = _on_executor(groups, executor)
        elif client is not None:
            finished = _dask(groups, client)
        elif workers > 1:
            finished = _process_pool(groups, workers)
        else:
            finished = _serial(groups)
        stack.callback(getattr(finished, "close", lambda: None))
        bar = stack.enter_context(tqdm(
            total=total, initial=total - sum(map(len, groups)), unit="mass", desc="masses",
            disable=not progress, file=sys.stderr))
        for group, future in finished:
            try:
                outcomes = future.result()
            except (DataFileError, ClusterError):
                raise
            except Exception as err:
                outcomes = [TaskFailure(repr(err), "".join(
                    traceback.format_exception(err)))] * len(group)
            for task, outcome in zip(group, outcomes, strict=True):
                _record(jobs[task.output_dir], task, outcome)
                bar.update(1)


def _record(job: _Prepared, task: MassTask, outcome: dict[str, Any] | TaskFailure) -> None:
    """Book one finished mass into its job: result and contour files, or a failure."""
    where = {"scan_dir": job.out}
    if isinstance(outcome, TaskFailure):
        log.error("m_N = %g GeV failed: %s\n%s", task.mass_gev, outcome.error,
                  outcome.traceback, extra=where)
        job.failed.append(task.mass_gev)
        return
    job.results[task.index] = outcome
    log.info("m_N = %g GeV %s in %.1f s: d_low %s, d_high %s", task.mass_gev,
             outcome["status"], outcome.get("elapsed_s", float("nan")),
             outcome.get("d_low"), outcome.get("d_high"), extra=where)
    write_contour(job.out, job.config, job.results)


@contextlib.contextmanager
def _scan_log(out: Path) -> Iterator[None]:
    """Log the scan (``t2khnl.scan`` at INFO, the rest of t2khnl as configured) to scan.log."""
    handler = logging.FileHandler(out / "scan.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    # with several scans (scan_many), a record about one scan's mass goes to its log only
    handler.addFilter(lambda record: getattr(record, "scan_dir", out) == out)
    package_log = logging.getLogger("t2khnl")
    previous = log.level
    if log.getEffectiveLevel() > logging.INFO:
        # INFO records of the scan go to the file only, not to the console's handlers.
        log.setLevel(logging.INFO)
        quiet = _ConsoleQuiet()
        for h in logging.getLogger().handlers:
            h.addFilter(quiet)
    else:
        quiet = None
    package_log.addHandler(handler)
    try:
        yield
    finally:
        package_log.removeHandler(handler)
        handler.close()
        log.setLevel(previous)
        if quiet is not None:
            for h in logging.getLogger().handlers:
                h.removeFilter(quiet)


class _ConsoleQuiet(logging.Filter):
    """Keep the scan's INFO records off the console when the user did not ask for them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == __name__ and record.levelno < logging.WARNING)


__all__ = ["InProcess", "MassTask", "OpenEdges", "ScanJob", "TaskFailure", "check_single_threaded",
           "connect", "edge_errors", "group_key", "local_pool", "mass_label", "mass_seed",
           "mass_seeds", "open_edges", "parse_masses", "run_group", "run_group_on_dask",
           "run_mass", "scan", "scan_many", "write_contour"]
