"""Where a scan's masses run: in this process, a local process pool, any
``concurrent.futures`` executor, or a Dask cluster (one thread per worker process).

A scan hands over groups of tasks and the function that runs a group
(:func:`t2khnl.scan.run_group`); :func:`finished_groups` yields each group with its future as
it finishes, whichever executor runs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures import as_completed as futures_as_completed
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar

from .errors import ClusterError, InputError

#: Seconds to wait for a Dask scheduler before giving up.
CONNECT_TIMEOUT_S = 20.0


class TaskLike(Protocol):
    """What the executors need of a task: where it writes, its mass's label and seed (the
    Dask key of its group)."""

    @property
    def output_dir(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def seed(self) -> int: ...


Task = TypeVar("Task", bound=TaskLike)
#: Runs a group of tasks in one worker, returning one outcome per task.
GroupRunner = Callable[[Sequence[Any]], list[Any]]
Finished = Iterator[tuple[list[Task], "Future[Any]"]]


class TaskFailure(NamedTuple):
    """An unexpected error of one task of a group (the other tasks go on).

    Attributes:
        error: ``repr`` of the exception.
        traceback: its formatted traceback.
    """

    error: str
    traceback: str


class InProcess(Executor):
    """An executor that runs each submission at once, in this process (one worker)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # raised by Future.result, as a pool would
            future.set_exception(err)
        return future


def finished_groups(groups: list[list[Task]], run: GroupRunner, *, workers: int,
                    client: Any = None, executor: Executor | None = None) -> Finished[Task]:
    """Run the groups and yield each with its future as it finishes: on ``executor`` if
    given, else on the Dask ``client``, else on ``workers`` local processes (1: in this
    process, one group after the other)."""
    if executor is not None:
        return _on_executor(groups, executor, run)
    if client is not None:
        return _dask(groups, client, run)
    if workers > 1:
        return _process_pool(groups, workers, run)
    return _serial(groups, run)


def _serial(groups: list[list[Task]], run: GroupRunner) -> Finished[Task]:
    """Run the groups in this process, one by one, yielding each as a finished future."""
    executor = InProcess()
    for group in groups:
        yield group, executor.submit(run, group)


def _on_executor(groups: list[list[Task]], executor: Executor,
                 run: GroupRunner) -> Finished[Task]:
    """Run the groups on a ``concurrent.futures`` executor, yielding them as they finish."""
    futures = {executor.submit(run, group): i for i, group in enumerate(groups)}
    try:
        for future in futures_as_completed(futures):
            yield groups[futures[future]], future
    finally:
        for future in futures:
            future.cancel()


def local_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh interpreters (spawn: never a fork of a process holding
    SIREN's state), for :func:`t2khnl.scan.scan_many` and the work submitted beside it."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def _process_pool(groups: list[list[Task]], workers: int, run: GroupRunner) -> Finished[Task]:
    """Run the groups on a local process pool, yielding them as they finish."""
    with local_pool(workers) as pool:
        yield from _on_executor(groups, pool, run)


def connect(address: str | None, timeout_s: float = CONNECT_TIMEOUT_S, *,
            scheduler_file: str | os.PathLike[str] | None = None) -> Any:
    """A ``dask.distributed`` client of a scheduler, checked to run t2khnl's tasks.

    Each worker must run one thread (``dask worker --nthreads 1``, or several worker
    processes of one thread each): t2khnl keeps SIREN objects, cross sections and samples
    per process, which tasks in threads of one process would share and overwrite. Workers
    present at connect time are checked here; one that joins later is checked by the
    first task it runs (:func:`run_on_dask_worker`).

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


def run_on_dask_worker(run: GroupRunner, tasks: Sequence[Any]) -> list[Any]:
    """``run(tasks)`` in a Dask worker, after checking that the worker runs one thread
    (workers that joined after :func:`connect` checked the others).

    Raises:
        ClusterError: the worker runs more than one thread.
    """
    from distributed import get_worker

    worker = get_worker()
    check_single_threaded({worker.address: worker.state.nthreads})
    return run(tasks)


def _dask(groups: list[list[Task]], client: Any, run: GroupRunner) -> Finished[Task]:
    """Run the groups on a Dask cluster, yielding them as they finish."""
    from distributed import as_completed

    def key(group: list[Task]) -> str:
        names = "|".join(f"{t.output_dir}/{t.label}/{t.seed}" for t in group)
        return f"t2khnl-scan-{group[0].label}-{hashlib.sha256(names.encode()).hexdigest()[:16]}"

    futures = {client.submit(run_on_dask_worker, run, group, pure=False, key=key(group)): i
               for i, group in enumerate(groups)}
    try:
        for future in as_completed(list(futures)):
            yield groups[futures[future]], future
    finally:
        client.cancel(list(futures))


__all__ = ["CONNECT_TIMEOUT_S", "InProcess", "TaskFailure", "check_single_threaded", "connect",
           "finished_groups", "local_pool", "run_on_dask_worker"]
