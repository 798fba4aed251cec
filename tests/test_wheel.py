"""The built wheel carries everything: installed into a new venv outside the checkout, it
simulates with no data folder given.

The venv is made with ``--system-site-packages`` so that the heavy dependencies (SIREN,
DarkNews, ROOT, ...) are reused. Those site-packages may hold an editable t2khnl of some
checkout: the test asserts that the venv imports the wheel's own copy and reads the data
shipped inside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the checkout holds that the build must not see (and must not be written into).
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".ruff_cache", "*.root")


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=600,
                          **kwargs)


def test_wheel_installs_and_simulates_without_a_data_folder(tmp_path):
    start = time.perf_counter()
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)  # the checkout stays untouched
    wheels = tmp_path / "wheels"
    # --no-build-isolation: the installed setuptools builds it (no index needed)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "--wheel-dir", str(wheels), str(source)])
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("t2khnl-*.whl")

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    made = _run([base, "-m", "venv", "--system-site-packages", str(venv)])
    assert made.returncode == 0, made.stderr
    python, script = venv / "bin" / "python", venv / "bin" / "t2khnl"
    installed = _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                      str(wheel)])
    assert installed.returncode == 0, installed.stderr

    run = tmp_path / "run"
    run.mkdir()
    env = {key: value for key, value in os.environ.items()
           if key not in ("T2KHNL_DATA_DIR", "PYTHONPATH", "VIRTUAL_ENV")}
    where = _run([str(python), "-c", "import t2khnl, t2khnl.flux; print(t2khnl.__file__); "
                  "print(t2khnl.flux.data_folder())"], cwd=run, env=env)
    assert where.returncode == 0, where.stderr
    module, data = (Path(line) for line in where.stdout.splitlines())
    site = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / (
        "site-packages")
    assert module == site / "t2khnl" / "__init__.py"
    assert data == site / "t2khnl" / "flux" / "data"

    simulated = _run([str(script), "simulate", "--events", "500"], cwd=run, env=env)
    assert simulated.returncode == 0, simulated.stderr
    summary = simulated.stdout.splitlines()[-1]
    assert " events written to t2khnl_events.root; expected N -> nu gamma decays" in summary
    assert "Traceback" not in simulated.stderr
    assert [p.name for p in run.iterdir()] == ["t2khnl_events.root"]
    print(f"\nwheel built and installed, simulate --events 500 run: "
          f"{time.perf_counter() - start:.0f} s")
