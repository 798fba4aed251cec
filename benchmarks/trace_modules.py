"""Which t2khnl modules one CLI command passes through (issue 16's "module path").

Runs ``t2khnl <args>`` in this process under :func:`sys.setprofile` and records every call
from one first-party module (t2khnl, geometry, flux, selections, plots) into another; the
import machinery (a module's top level running on import, the package's lazy
``__getattr__`` that ``from . import name`` probes) is not a call of the pipeline. It
prints (1) every first-party module whose functions ran, (2) the *path to the limit*: the
modules called by the CLI and by the limit step (t2khnl.limit) before the outcome is
written, plus those a callback into the step reaches, (3) the modules the separate writing
call (``limit.write``) reaches, and (4) the chains of first-party modules on the call stack
below ``stats.limit_interval`` (a chain that returns into t2khnl.limit or t2khnl.generate
from stats is the call-back the issue names).

Usage: python benchmarks/trace_modules.py limit --detector nd280 --mass 0.47 --output DIR
(the JSON report follows the command's own output on stdout).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

FIRST_PARTY = ("t2khnl", "geometry", "flux", "selections", "plots")


def _module(frame) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if name.split(".")[0] in FIRST_PARTY else None


def _on_stack(frame, module: str, function: str) -> bool:
    """Whether ``module.function`` is on the stack of ``frame``."""
    while frame is not None:
        if _module(frame) == module and frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def _import_machinery(frame) -> bool:
    """A module's top level running on import, or the package's lazy ``__getattr__``."""
    code = frame.f_code.co_name
    return code == "<module>" or (code == "__getattr__" and "." not in _module(frame))


def _stack(frame) -> tuple[tuple[str, ...], bool]:
    """The first-party modules on the stack, outermost first, consecutive repeats merged,
    and whether :func:`t2khnl.stats.limit_interval` is on it."""
    chain: list[str] = []
    inside = False
    while frame is not None:
        name = _module(frame)
        if name is not None:
            if not chain or chain[-1] != name:
                chain.append(name)
            inside = inside or (name == "t2khnl.stats" and frame.f_code.co_name == "limit_interval")
        frame = frame.f_back
    return tuple(reversed(chain)), inside


def main() -> None:
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    writing: dict[tuple[str, str], set[str]] = defaultdict(set)
    interval_chains: set[tuple[str, ...]] = set()

    def profile(frame, event, arg):
        if event != "call":
            return
        callee = _module(frame)
        if callee is None or _import_machinery(frame):
            return
        if callee != "t2khnl.stats" or frame.f_code.co_name != "limit_interval":
            chain, inside = _stack(frame)
            if inside:
                interval_chains.add(chain)
        back = frame.f_back
        while back is not None and _module(back) is None:
            back = back.f_back
        caller = _module(back) if back is not None else None
        if caller is not None and caller != callee:
            phase = writing if _on_stack(frame, "t2khnl.limit", "write") else edges
            phase[(caller, callee)].add(frame.f_code.co_name)

    from t2khnl.cli import main as cli

    sys.setprofile(profile)
    try:
        cli.main(args=sys.argv[1:], standalone_mode=False)
    finally:
        sys.setprofile(None)
    modules = sorted({m for edge in (*edges, *writing) for m in edge})
    # the step's path: from the CLI, the calls made by the CLI and by the limit step itself,
    # and by whatever those call back into (a module the step hands a callback that calls
    # into a third module)
    out = defaultdict(list)
    for (a, b), names in edges.items():
        out[a].append((b, sorted(names)))
    spine = {"t2khnl.cli"}
    frontier = ["t2khnl.cli"]
    steps = {"t2khnl.cli", "t2khnl.limit"}
    while frontier:
        a = frontier.pop()
        for b, _ in out.get(a, []):
            if b not in spine:
                spine.add(b)
                if b in steps:
                    frontier.append(b)
    # callbacks: a module the step called that calls back into a step module and on
    callbacks = sorted((a, b, names) for (a, b), names in edges.items()
                       if b in steps and a not in steps)
    for _a, b, _ in callbacks:
        for c, _n in out.get(b, []):
            spine.add(c)
    print(json.dumps({
        "modules_run": modules, "n_modules_run": len(modules),
        "path": sorted(spine), "n_path": len(spine),
        "writing": sorted({b for (a, b) in writing if a == "t2khnl.limit"}),
        "chains_below_limit_interval": [" -> ".join(c) for c in sorted(interval_chains)],
        "modules_below_limit_interval": sorted(
            {m for c in interval_chains for m in c[c.index("t2khnl.stats"):]}),
        "callbacks_into_the_step": [f"{a} -> {b}: {', '.join(sorted(n))}"
                                    for a, b, n in callbacks],
        "edges": {f"{a} -> {b}": sorted(n) for (a, b), n in sorted(edges.items())},
        "writing_edges": {f"{a} -> {b}": sorted(n) for (a, b), n in sorted(writing.items())},
    }, indent=1))


if __name__ == "__main__":
    main()
