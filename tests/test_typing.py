"""mypy finds no error in t2khnl, geometry, flux, selections and plots.

The folders are installed as one package (``t2khnl.geometry`` is ``geometry/``, ...; see
setup.cfg), so mypy runs on a tree of symbolic links laid out that way, with the
configuration of setup.cfg. ``python tests/test_typing.py`` prints mypy's report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Top-level folders installed as sub-packages of t2khnl (setup.cfg ``package_dir``).
SUBPACKAGES = ("geometry", "flux", "selections", "plots")


def package_tree(where: Path) -> Path:
    """Lay out ``where/t2khnl`` as the installed package, with links to the sources."""
    pkg = where / "t2khnl"
    pkg.mkdir(parents=True)
    for entry in (ROOT / "t2khnl").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name in SUBPACKAGES:
        (pkg / name).symlink_to(ROOT / name)
    return where


def run_mypy(where: Path) -> subprocess.CompletedProcess[str]:
    """mypy over the package laid out in ``where`` (setup.cfg's configuration)."""
    package_tree(where)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "setup.cfg"),
         "--cache-dir", str(where / ".mypy_cache"), "--no-error-summary", "-p", "t2khnl"],
        cwd=where, capture_output=True, text=True, check=False)


def test_mypy_is_clean(tmp_path):
    result = run_mypy(tmp_path)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0 and not errors, "\n".join(errors[:40]) + result.stderr


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        proc = run_mypy(Path(tmp))
        sys.stdout.write(proc.stdout + proc.stderr)
        sys.exit(proc.returncode)
