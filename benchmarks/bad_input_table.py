"""The bad-input table: every case of ``tests/bad_inputs.py`` run as a user would.

Each command runs as ``t2khnl ARGS`` (the installed console script) in an empty temporary
folder, with ``T2KHNL_DATA_DIR`` unset and a fresh cross-section cache; the table gives the
exit code, the message (stderr) and whether the folder and the cache stayed free of
output. Prints a Markdown table (``--output`` also writes it)::

    python benchmarks/bad_input_table.py [--skip-slow] [--output table.md]

The cases that wait for a Dask scheduler take ``t2khnl.executors.CONNECT_TIMEOUT_S`` (20 s)
each; ``--skip-slow`` leaves them out.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bad_inputs import CASES


def _command() -> list[str]:
    beside = Path(sys.executable).with_name("t2khnl")
    found = str(beside) if beside.exists() else shutil.which("t2khnl")
    return [found] if found else [sys.executable, "-m", "t2khnl.cli"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-slow", action="store_true",
                        help="leave out the cases that wait for a scheduler (20 s each)")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    rows = ["| command | exit | message (stderr) | nothing written | s |", "|---|---|---|---|---|"]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="t2khnl_bad_") as tmp:
        cache = Path(tmp) / "cache"
        env = {k: v for k, v in os.environ.items() if k != "T2KHNL_DATA_DIR"}
        env["T2KHNL_CACHE_DIR"] = str(cache)
        for case in CASES:
            if case.slow and args.skip_slow:
                continue
            work = Path(tempfile.mkdtemp(dir=tmp, prefix="run_"))
            start = time.perf_counter()
            proc = subprocess.run([*_command(), *case.args], cwd=work, env=env,
                                  capture_output=True, text=True, check=False, timeout=300)
            wall = time.perf_counter() - start
            message = proc.stderr.strip()
            clean = not list(work.iterdir()) and not (cache / "xsec").exists()
            ok = (proc.returncode == 2 and clean and len(message.splitlines()) == 1
                  and not proc.stdout
                  and all(w.lower() in message.lower() for w in case.words))
            failures += not ok
            shown = message.replace("|", "\\|")
            rows.append(f"| `t2khnl {' '.join(case.args)}` | {proc.returncode} | {shown} | "
                        f"{'yes' if clean else 'NO'} | {wall:.1f} |"
                        + ("" if ok else " **unexpected**"))
    table = "\n".join(rows)
    print(table)
    print(f"\n{len(rows) - 2} cases, {failures} not as expected")
    if args.output:
        args.output.write_text(table + "\n")


if __name__ == "__main__":
    main()
