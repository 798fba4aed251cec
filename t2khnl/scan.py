"""Mass scans: the excluded d interval at many masses, resumable, on local or Dask workers.

``t2khnl scan`` runs :func:`t2khnl.limit.run` once per mass and collects the edges of the
excluded interval into a contour, in a scan folder that :class:`t2khnl.scanstore.ScanStore`
owns (its layout: :mod:`t2khnl.scanstore`). Rerunning the same command skips finished
masses; masses that :func:`t2khnl.limit.run` rejects (:class:`~t2khnl.errors.InputError`,
e.g. heavier than the flux reaches) are recorded as skipped with the reason.

Each mass gets its own seed, derived from the scan seed and the mass's index in the sorted
mass list (:func:`t2khnl.seeds.mass_seeds`), so the same command gives identical contour
files whatever the executor (:mod:`t2khnl.executors`) and the order in which masses
finish. With a precision target, a mass is rerun with more events until the MC error on
its edges (:mod:`t2khnl.precision`) meets it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

# tqdm before anything imports siren (see t2khnl.cli).
from tqdm import tqdm

from . import __version__
from .errors import ClusterError, DataFileError, InputError, ScanError
from .executors import CONNECT_TIMEOUT_S, TaskFailure, connect, finished_groups
from .masses import mass_label, parse_masses
from .patchsets import write_grid_likelihood
from .precision import edge_errors, variance_needs
from .scanlog import mass_log, scan_log
from .scanrecords import ContourRecord, MassResult, ScanConfig
from .scanstore import ScanStore, open_edges
from .seeds import attempt_seed, mass_seeds

if TYPE_CHECKING:
    from .config import Preset
    from .limit import LimitOutcome

log = logging.getLogger(__name__)

#: Adaptive effort: the events per beam grow at most by this factor.
MAX_EVENTS_FACTOR = 32
#: Default target relative MC error δd/d on the edges, and the first attempt's events per beam.
DEFAULT_PRECISION = 0.03
DEFAULT_EVENTS = 5000

_Runner = Callable[..., "LimitOutcome"]


@dataclass(frozen=True)
class MassTask:
    """One mass of a scan: everything a worker needs (picklable).

    Attributes:
        index: position in the sorted mass list.
        mass_gev: HNL mass [GeV].
        seed: the mass's own seed (:func:`mass_seeds`).
        detector: ``"nd280"`` or ``"upgrade"``.
        preset: ``"corrected"``, ``"published"``, a preset file or a
            :class:`~t2khnl.config.Preset` (a step of the walk).
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
    preset: str | Preset
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


def run_mass(task: MassTask, *, cache: Any = None) -> MassResult:
    """Run one mass, write its per-mass result atomically, and return it.

    Runs in the worker. An :class:`~t2khnl.errors.InputError` from the analysis (e.g. a
    mass the flux cannot produce) gives a ``"skipped"`` result with the reason; with
    ``task.precision`` more events are added until every edge's MC error is below
    ``precision * d`` and no edge is refused for want of effective events
    (:func:`t2khnl.precision.variance_needs`): with new seeds, in the injection strata that
    the events so far say need them, as many as those strata's MC variances predict
    (:func:`t2khnl.allocation.next_attempt`, up to :data:`MAX_EVENTS_FACTOR` times the first
    attempt's in all), pooled with the earlier attempts' events (:func:`t2khnl.generate.pool`).

    Args:
        task: the mass.
        cache: a :class:`t2khnl.generate.SimulationCache` the runner may reuse (None: the
            runner's own).

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
    store = ScanStore(task.output_dir)
    mass_dir = store.mass_dir(task.mass_gev)
    mass_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result: MassResult = {
        "index": task.index, "mass_gev": task.mass_gev, "label": task.label,
        "seed": task.seed, "status": "done", "reason": None, "n_events": task.n_events,
    }
    with mass_log(store.mass_log_file(task.mass_gev)):
        samples: dict[str, Any] = {}  # the runner's pooled simulations, by beam
        n_new, total, attempt = task.n_events, 0, 0
        cap = task.n_events * MAX_EVENTS_FACTOR
        allocation = None
        while True:
            try:
                outcome = runner(
                    task.detector, task.mass_gev, preset=task.preset, n_events=n_new,
                    pot_total=task.pot_total, seed=attempt_seed(task.seed, attempt, samples),
                    data_dir=task.data_dir, output_dir=mass_dir, t2k_backgrounds=None,
                    flux_xsec=None, allocation=allocation, samples=samples, progress=None,
                    d_range=task.d_range, **({} if cache is None else {"cache": cache}),
                )
            except InputError as err:
                log.warning("skipping m_N = %g GeV: %s", task.mass_gev, err)
                result["status"], result["reason"] = "skipped", str(err)
                break
            # a runner that keeps no samples (a stand-in) analysed the new events alone
            total = total + n_new if samples else n_new
            summary = outcome.summary
            errors = edge_errors(outcome)
            result["n_events"] = total
            _record_edges(result, summary, errors)
            result["summary"] = summary
            needs = variance_needs(summary, errors, task.precision)
            if not needs or total >= cap:
                break
            following, allocation = allocation_module.next_attempt(
                outcome, needs=needs, n_made=total, n_cap=cap,
                pooled=bool(samples))
            n_new = following - total if samples else following
            attempt += 1
            log.info("m_N = %g GeV: edges short of the precision target %.3g, %d -> %d events "
                     "per beam", task.mass_gev, task.precision, total, following)
    result["elapsed_s"] = time.perf_counter() - start
    store.write_mass_result(task.mass_gev, result)
    return result


def _record_edges(result: MassResult, summary: Mapping[str, Any],
                  errors: Mapping[str, float | None]) -> None:
    """Copy the limit step's edges [GeV^-1] and their MC errors into a mass's result."""
    result["d_low"], result["d_high"] = summary.get("d_low"), summary.get("d_high")
    result["d_low_open"] = summary.get("d_low_open")
    result["d_high_open"] = summary.get("d_high_open")
    result["refused"], result["intervals"] = summary.get("refused"), summary.get("intervals")
    result["d_low_err"], result["d_high_err"] = errors["d_low_err"], errors["d_high_err"]


def scan_config(detector: str, masses: list[float], *, preset: str | Preset, n_events: int,
                seed: int, pot_total: float | None, precision: float | None,
                d_range: tuple[float, float] | None = None) -> ScanConfig:
    """The configuration a scan folder is bound to (``scan.json``); ``d_range_gev_inv``
    appears only when the coupling range is not the default (folders of earlier versions
    stay valid)."""
    from . import config

    config_dict: ScanConfig = {
        "detector": detector, "preset": preset if isinstance(preset, str) else preset.name,
        "n_events": n_events, "seed": seed,
        "pot_total": pot_total, "masses_gev": masses, "t2khnl_version": __version__,
    }
    if precision is not None:
        config_dict["precision"] = precision
    if d_range is not None:
        config_dict["d_range_gev_inv"] = list(d_range)
    if not isinstance(preset, str):
        # a walk step: bind the folder to the preset's content
        config_dict["preset_sha256"] = preset.digest()
    elif config.is_preset_file(preset):
        # a preset file may change under the same name: bind the folder to its content
        config_dict["preset_sha256"] = hashlib.sha256(Path(preset).read_bytes()).hexdigest()
    return config_dict


def run_group(tasks: Sequence[MassTask]) -> list[MassResult | TaskFailure]:
    """Run masses one after the other in this process (:func:`run_mass`).

    :func:`scan_many` groups the masses that share SIREN's cross-section objects (same mass
    and channels, :func:`group_key`): one :class:`t2khnl.generate.SimulationCache`, passed
    to every mass of the group, keeps them per target between calls, so the second detector
    at a mass builds none (and a walk step that changes only the analysis reuses the
    previous step's events).

    Args:
        tasks: the masses.

    Returns:
        Per task, its result or the :class:`TaskFailure` that stopped it.

    Raises:
        DataFileError: input data missing or unreadable (the scan stops).
    """
    from .generate import SimulationCache

    cache = SimulationCache()
    outcomes: list[MassResult | TaskFailure] = []
    for task in tasks:
        try:
            outcomes.append(run_mass(task, cache=cache))
        except DataFileError:
            raise
        except Exception as err:  # reported by scan_many; the group's other masses go on
            outcomes.append(TaskFailure(repr(err), traceback.format_exc()))
    return outcomes


def group_key(task: MassTask) -> tuple[float, tuple[str, ...]]:
    """Masses with the same key share SIREN's cross-section objects: mass [GeV], channels."""
    from . import config

    return task.mass_gev, tuple(config.resolve(task.preset).channels)


_Group = list[MassTask]


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
    preset: str | Preset = "corrected"
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
) -> list[ContourRecord]:
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

    store: ScanStore
    config: ScanConfig
    tasks: list[MassTask]
    results: dict[int, MassResult]
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
) -> list[list[ContourRecord]]:
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
            stack.enter_context(scan_log(job.store.log_file, log))
        where = (f"scheduler {scheduler or scheduler_file}" if client is not None
                 else f"{workers} worker(s)")
        groups: dict[tuple[float, tuple[str, ...]], _Group] = {}
        for job in prepared:
            log.info("scan of %d masses in %s: %d finished, %d to run (%s)", len(job.tasks),
                     job.store.root, len(job.results), len(job.pending), where,
                     extra={"scan_dir": job.store.root})
            job.store.write_contour(job.config, job.results)
            for task in job.pending:
                groups.setdefault(group_key(task), []).append(task)
        _execute(list(groups.values()), dict(zip(folders, prepared, strict=True)),
                 workers=workers, client=client, executor=executor, progress=progress,
                 total=sum(len(job.tasks) for job in prepared))
        for job in prepared:
            _, grid = job.store.grid_likelihood(job.config["detector"])
            if len(job.results) == len(job.tasks) and (job.pending or not grid.is_file()):
                write_grid_likelihood(job.store, job.config["detector"])  # ~2 s for 48 masses
            log.info("scan finished: %d of %d masses done, %d failed", len(job.results),
                     len(job.tasks), len(job.failed), extra={"scan_dir": job.store.root})
            for line in open_edges(list(job.results.values())).lines(
                    job.config.get("d_range_gev_inv")):
                log.info("%s", line, extra={"scan_dir": job.store.root})
    failures = [f"{len(job.failed)} mass(es) failed ({', '.join(f'{m:g}' for m in job.failed)} "
                f"GeV; see {job.store.log_file})" for job in prepared if job.failed]
    if failures:
        msg = "; ".join(failures) + "; rerun the same command to retry them"
        raise ScanError(msg)
    return [job.store.write_contour(job.config, job.results) for job in prepared]


class _Checked(NamedTuple):
    """A job :func:`_check` accepted, with its masses [GeV] and configuration."""

    job: ScanJob
    masses: list[float]
    config: ScanConfig


def _check(job: ScanJob, data_dir: str | None) -> _Checked:
    """Check a job's arguments and input data, writing nothing."""
    from . import config
    from .flux import load_beam_flux

    config.check_choice("detector", job.detector, config.DETECTORS)
    config.resolve(job.preset)
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
    store = ScanStore(job.output_dir)
    store.bind(checked.config, force)
    folder = str(store.root.resolve())
    seeds = mass_seeds(job.seed, len(checked.masses))
    from . import config

    preset = config.resolve(job.preset)  # read once, passed to every mass
    tasks = [
        MassTask(index=i, mass_gev=m, seed=seeds[i], detector=job.detector,
                 preset=preset, n_events=job.n_events, pot_total=job.pot_total,
                 data_dir=data_dir, output_dir=folder, precision=job.precision,
                 runner=job.runner, d_range=job.d_range)
        for i, m in enumerate(checked.masses)
    ]
    results = store.finished(checked.masses)
    pending = [task for task in tasks if task.index not in results]
    return _Prepared(store, checked.config, tasks, results, pending, [])


def _execute(groups: list[_Group], jobs: dict[str, _Prepared], *, workers: int,
             client: Any, executor: Executor | None, progress: bool, total: int) -> None:
    """Run the groups, updating each job's results, failures and contour files as each of
    its masses finishes."""
    if not groups:
        return
    with contextlib.ExitStack() as stack:
        # run_group looked up now: a test may stand in for it
        finished = finished_groups(groups, run_group, workers=workers, client=client,
                                   executor=executor)
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


def _record(job: _Prepared, task: MassTask, outcome: MassResult | TaskFailure) -> None:
    """Book one finished mass into its job: result and contour files, or a failure."""
    where = {"scan_dir": job.store.root}
    if isinstance(outcome, TaskFailure):
        log.error("m_N = %g GeV failed: %s\n%s", task.mass_gev, outcome.error,
                  outcome.traceback, extra=where)
        job.failed.append(task.mass_gev)
        return
    job.results[task.index] = outcome
    log.info("m_N = %g GeV %s in %.1f s: d_low %s, d_high %s", task.mass_gev,
             outcome["status"], outcome.get("elapsed_s", float("nan")),
             outcome.get("d_low"), outcome.get("d_high"), extra=where)
    job.store.write_contour(job.config, job.results)


__all__ = ["DEFAULT_EVENTS", "DEFAULT_PRECISION", "MAX_EVENTS_FACTOR", "MassTask", "ScanJob",
           "group_key", "run_group", "run_mass", "scan", "scan_config", "scan_many"]
