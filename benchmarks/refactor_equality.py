"""Before/after equality of t2khnl's numeric outputs across a refactor.

``record --rev REV --out DIR`` checks out REV in a temporary git worktree, gives it its own
virtual environment (``--system-site-packages``, ``pip install -e . --no-deps``) and its own
empty ``T2KHNL_CACHE_DIR``, runs the fixed runs below there and keeps their outputs in DIR:

- ``simulate_<name>.npz`` (+ ``.meta.json``): every branch of a fixed-seed ``t2khnl simulate``
  ntuple, and its metadata object;
- ``scan/contour.csv``: a fixed-seed 6-mass ND280 scan of the corrected preset;
- ``reproduce/**/headlines.json`` and ``reproduce/**/contour_*.csv``: ``t2khnl reproduce
  --quick``.

``check --reference DIR`` runs the same with the t2khnl of the current checkout (the one this
interpreter imports) and compares: arrays exactly equal (dtype, shape, values; NaN equal to
NaN), CSV files byte-equal, JSON files equal value by value. It prints a table and exits 1 on
any difference. ``compare --reference DIR --candidate DIR2`` only compares two stored folders.

Run offline; ``record`` at the reference revision once, ``check`` after each change. Each run
uses a fresh cache folder unless ``--cache-dir`` is given (a warm cache is faster but would
hide a change in how the cross-section tables are computed).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: The fixed simulate runs: name -> CLI arguments (output added).
SIMULATE_RUNS: dict[str, tuple[str, ...]] = {
    "nd280_fhc": ("--detector", "nd280", "--beam", "fhc", "--mass", "0.47",
                  "--coupling", "1.25e-6", "--events", "5000", "--seed", "11"),
    "upgrade_rhc": ("--detector", "upgrade", "--beam", "rhc", "--mass", "0.2",
                    "--coupling", "1e-6", "--events", "3000", "--seed", "12"),
}
#: The fixed scan: six masses on ND280 with the corrected preset; the default precision
#: (reruns sized by the allocation) is kept so that the rerun path is covered.
SCAN_ARGS: tuple[str, ...] = (
    "--detector", "nd280", "--preset", "corrected",
    "--masses", "0.03,0.08,0.15,0.3,0.5,0.9", "--events", "2500", "--seed", "7",
    "--workers", "1",
)
#: The quick reproduction (both presets and the walk).
REPRODUCE_ARGS: tuple[str, ...] = ("--quick", "--workers", "1", "--seed", "1")
STEPS = ("simulate", "scan", "reproduce")
#: Files of a reproduce folder that are compared (glob patterns, relative to it).
REPRODUCE_KEPT = ("**/headlines.json", "**/contour_*.csv")


@dataclass(frozen=True)
class Runner:
    """How to call one installation of t2khnl: its interpreter and its environment."""

    python: Path
    env: dict[str, str]

    def t2khnl(self, args: Sequence[str], cwd: Path) -> float:
        """Run ``t2khnl ARGS`` in cwd; return the wall time [s]; raise on failure."""
        cmd = [str(self.python), "-c", "from t2khnl.cli import main; main()", *args]
        print("  $ t2khnl " + " ".join(args), flush=True)
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-4000:])
            msg = f"t2khnl {' '.join(args)} exited {proc.returncode}"
            raise RuntimeError(msg)
        return elapsed

    def package_dir(self) -> Path:
        """The folder of the t2khnl package this runner imports."""
        out = subprocess.run(
            [str(self.python), "-c", "import t2khnl, os; print(os.path.dirname(t2khnl.__file__))"],
            cwd=tempfile.gettempdir(), env=self.env, stdout=subprocess.PIPE, text=True,
            check=True)
        return Path(out.stdout.strip()).resolve()


def _env(cache_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("T2KHNL_DATA_DIR", None)
    env["T2KHNL_CACHE_DIR"] = str(cache_dir)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    return env


def _save_ntuple(root_file: Path, out_stem: Path) -> None:
    """Every branch of the ``events`` tree as .npz, the metadata object as .meta.json."""
    import uproot

    with uproot.open(root_file) as f:
        arrays = f["events"].arrays(library="np")
        meta = json.loads(str(f["metadata"]))
    flat: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        if arr.dtype == object:  # jagged: values and counts
            flat[f"{name}.counts"] = np.array([len(x) for x in arr])
            flat[f"{name}.values"] = (np.concatenate(list(arr)) if len(arr) else np.array([]))
        else:
            flat[name] = arr
    np.savez(out_stem.with_suffix(".npz"), **flat)
    out_stem.with_suffix(".meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))


def run_all(runner: Runner, out: Path, steps: Sequence[str]) -> dict[str, float]:
    """Run the fixed runs with runner, keep their outputs in out; return wall times [s]."""
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="t2khnl_eq_") as tmp_name:
        tmp = Path(tmp_name)
        if "simulate" in steps:
            for name, args in SIMULATE_RUNS.items():
                root = tmp / f"{name}.root"
                times[f"simulate_{name}"] = runner.t2khnl(
                    ["simulate", *args, "--output", str(root)], tmp)
                _save_ntuple(root, out / f"simulate_{name}")
        if "scan" in steps:
            times["scan"] = runner.t2khnl(["scan", *SCAN_ARGS, "--output", str(tmp / "scan")],
                                          tmp)
            (out / "scan").mkdir(exist_ok=True)
            for name in ("contour.csv", "contour.json"):
                shutil.copy2(tmp / "scan" / name, out / "scan" / name)
        if "reproduce" in steps:
            times["reproduce"] = runner.t2khnl(
                ["reproduce", *REPRODUCE_ARGS, "--output", str(tmp / "reproduce")], tmp)
            for pattern in REPRODUCE_KEPT:
                for path in (tmp / "reproduce").glob(pattern):
                    rel = path.relative_to(tmp)
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, out / rel)
    return times


# --------------------------------------------------------------------------------------
# comparison


def _files(folder: Path) -> list[str]:
    """The compared files of a stored folder, relative paths (the .json twin of the scan
    contour and the manifest are kept for information only)."""
    keep = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and rel not in ("manifest.json", "scan/contour.json"):
            keep.append(rel)
    return keep


def _json_diffs(a: Any, b: Any, where: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                yield f"{where}/{key}: only in {'candidate' if key in b else 'reference'}"
            else:
                yield from _json_diffs(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _json_diffs(x, y, f"{where}[{i}]")
    elif a != b and not (a != a and b != b):  # NaN == NaN here
        yield f"{where}: {a!r} != {b!r}"


def _compare_npz(ref: Path, new: Path) -> list[str]:
    diffs = []
    with np.load(ref) as a, np.load(new) as b:
        for key in sorted(set(a.files) | set(b.files)):
            if key not in a.files or key not in b.files:
                side = "candidate" if key in b.files else "reference"
                diffs.append(f"branch {key}: only in {side}")
                continue
            x, y = a[key], b[key]
            if x.dtype != y.dtype or x.shape != y.shape:
                diffs.append(f"{key}: {x.dtype}{x.shape} != {y.dtype}{y.shape}")
            elif not np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"):
                n = int(np.sum(~((x == y) | (np.isnan(x) & np.isnan(y))))
                        if x.dtype.kind in "fc" else np.sum(x != y))
                diffs.append(f"{key}: {n} of {x.size} values differ")
    return diffs


def _compare_csv(ref: Path, new: Path) -> list[str]:
    if ref.read_bytes() == new.read_bytes():
        return []
    with ref.open() as fa, new.open() as fb:
        rows_a, rows_b = list(csv.reader(fa)), list(csv.reader(fb))
    diffs = [f"{len(rows_a)} rows != {len(rows_b)} rows"] if len(rows_a) != len(rows_b) else []
    for i, (ra, rb) in enumerate(zip(rows_a, rows_b, strict=False)):
        if ra != rb:
            diffs.append(f"row {i}: {ra} != {rb}")
    return diffs or ["bytes differ (line endings?)"]


def compare(reference: Path, candidate: Path) -> list[tuple[str, list[str]]]:
    """Each compared file of the reference folder with its differences (empty: equal)."""
    rows = []
    for rel in _files(reference):
        ref, new = reference / rel, candidate / rel
        if not new.exists():
            rows.append((rel, ["missing in candidate"]))
        elif rel.endswith(".npz"):
            rows.append((rel, _compare_npz(ref, new)))
        elif rel.endswith(".csv"):
            rows.append((rel, _compare_csv(ref, new)))
        elif rel.endswith(".json"):
            rows.append((rel, list(_json_diffs(json.loads(ref.read_text()),
                                               json.loads(new.read_text())))))
        else:
            rows.append((rel, [] if ref.read_bytes() == new.read_bytes() else ["bytes differ"]))
    for rel in _files(candidate):
        if not (reference / rel).exists():
            rows.append((rel, ["not in reference"]))
    return rows


def print_table(rows: Sequence[tuple[str, list[str]]]) -> bool:
    """Print the comparison as a markdown table; True when everything is equal."""
    print("| file | result |\n|---|---|")
    for rel, diffs in rows:
        shown = "; ".join(diffs[:5]) + (f"; ... ({len(diffs)} in all)" if len(diffs) > 5 else "")
        print(f"| {rel} | {'equal' if not diffs else 'DIFFERS: ' + shown} |")
    ok = bool(rows) and all(not diffs for _, diffs in rows)
    print(f"\n{'ALL EQUAL' if ok else 'DIFFERENCES FOUND'} ({len(rows)} files)")
    return ok


# --------------------------------------------------------------------------------------
# commands


def _steps(text: str) -> list[str]:
    steps = [s for s in text.split(",") if s]
    bad = [s for s in steps if s not in STEPS]
    if bad:
        msg = f"unknown step(s) {bad}; choose from {', '.join(STEPS)}"
        raise argparse.ArgumentTypeError(msg)
    return steps


def _step_of(rel: str) -> str:
    """The step that wrote a stored file (its relative path)."""
    return "simulate" if rel.startswith("simulate_") else rel.split("/")[0]


def cmd_record(args: argparse.Namespace) -> int:
    out = Path(args.out).resolve()
    if out.exists() and any(out.iterdir()) and not args.force:
        print(f"{out} is not empty (use --force to overwrite)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", args.rev], check=True,
                         stdout=subprocess.PIPE, text=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix=f"t2khnl_ref_{sha[:7]}_"))
    tree = work / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), sha],
                   check=True)
    try:
        venv = work / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                       check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "-e",
                        str(tree)], check=True)
        with tempfile.TemporaryDirectory(prefix="t2khnl_refcache_") as tmp_cache:
            cache = Path(args.cache_dir).resolve() if args.cache_dir else Path(tmp_cache)
            runner = Runner(venv / "bin" / "python", _env(cache))
            pkg = runner.package_dir()
            if tree.resolve() not in pkg.parents:
                msg = f"the reference venv imports t2khnl from {pkg}, not from {tree}"
                raise RuntimeError(msg)
            print(f"recording {sha[:10]} ({pkg}) into {out}", flush=True)
            times = run_all(runner, out, args.steps)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                       check=False)
        shutil.rmtree(work, ignore_errors=True)
    manifest = {"rev": args.rev, "commit": sha, "steps": args.steps, "wall_s": times,
                "simulate": SIMULATE_RUNS, "scan": SCAN_ARGS, "reproduce": REPRODUCE_ARGS,
                "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"recorded {len(_files(out))} files; wall times [s]: "
          + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    reference = Path(args.reference).resolve()
    manifest = json.loads((reference / "manifest.json").read_text())
    steps = args.steps or manifest["steps"]
    if manifest.get("simulate") != {k: list(v) for k, v in SIMULATE_RUNS.items()} or \
            manifest.get("scan") != list(SCAN_ARGS) or \
            manifest.get("reproduce") != list(REPRODUCE_ARGS):
        print("the reference was recorded with other run arguments; re-record it",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="t2khnl_check_") as tmp_name:
        cand = Path(args.keep).resolve() if args.keep else Path(tmp_name) / "candidate"
        cache = (Path(args.cache_dir).resolve() if args.cache_dir
                 else Path(tmp_name) / "cache")
        cache.mkdir(parents=True, exist_ok=True)
        runner = Runner(Path(sys.executable), _env(cache))
        print(f"checking the t2khnl in {runner.package_dir()} against {manifest['commit'][:10]}",
              flush=True)
        times = run_all(runner, cand, steps)
        print("wall times [s]: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
        rows = [r for r in compare(reference, cand) if _step_of(r[0]) in steps]
    return 0 if print_table(rows) else 1


def cmd_compare(args: argparse.Namespace) -> int:
    return 0 if print_table(compare(Path(args.reference), Path(args.candidate))) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record the reference outputs of a git revision")
    rec.add_argument("--rev", required=True, help="git revision (commit, branch, tag)")
    rec.add_argument("--out", required=True, help="folder for the reference outputs")
    rec.add_argument("--steps", type=_steps, default=list(STEPS),
                     help="comma list of simulate,scan,reproduce (default: all)")
    rec.add_argument("--cache-dir", help="T2KHNL_CACHE_DIR to use (default: a fresh one)")
    rec.add_argument("--force", action="store_true", help="write into a non-empty --out")
    chk = sub.add_parser("check", help="run the current checkout and compare")
    chk.add_argument("--reference", required=True, help="folder written by record")
    chk.add_argument("--steps", type=_steps, default=None,
                     help="comma list of simulate,scan,reproduce (default: the reference's)")
    chk.add_argument("--cache-dir", help="T2KHNL_CACHE_DIR to use (default: a fresh one)")
    chk.add_argument("--keep", help="keep the candidate outputs in this folder")
    cmp_ = sub.add_parser("compare", help="compare two stored folders")
    cmp_.add_argument("--reference", required=True)
    cmp_.add_argument("--candidate", required=True)
    args = parser.parse_args(argv)
    return {"record": cmd_record, "check": cmd_check, "compare": cmd_compare}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
