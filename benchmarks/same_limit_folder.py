"""Check that two ``t2khnl limit`` output folders hold the same results.

Text files (summary, cut flows, workspaces, patchset) must be equal byte for byte; the
selected ntuples equal in every array and in their metadata; the histograms equal in
contents and variances. Used to show a refactor leaves the limit step's output unchanged:

    git archive <before> | tar -x -C /tmp/before
    (cd /tmp/before && PYTHONPATH=/tmp/before python -m t2khnl.cli limit --detector nd280 \
        --mass 0.47 --output /tmp/before_out)
    t2khnl limit --detector nd280 --mass 0.47 --output /tmp/after_out
    python benchmarks/same_limit_folder.py /tmp/before_out /tmp/after_out
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import uproot

from t2khnl import ntuple


def differences(a: Path, b: Path) -> list[str]:
    """What differs between folders ``a`` and ``b`` (empty: the same results)."""
    out = []
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return [f"files differ: {names} vs {sorted(p.name for p in b.iterdir())}"]
    for name in names:
        if name.endswith((".json", ".md")):
            if (a / name).read_bytes() != (b / name).read_bytes():
                out.append(name)
        elif name.startswith("selected_"):
            (ev_a, meta_a), (ev_b, meta_b) = ntuple.read(a / name), ntuple.read(b / name)
            if meta_a != meta_b:
                out.append(f"{name}: metadata")
            if ev_a.fields != ev_b.fields:
                out.append(f"{name}: fields")
                continue
            out += [f"{name}: {f}" for f in ev_a.fields
                    if not np.array_equal(np.asarray(ev_a[f]), np.asarray(ev_b[f]))]
        elif name.endswith(".root"):
            with uproot.open(a / name) as fa, uproot.open(b / name) as fb:
                for key in sorted(set(fa.keys()) | set(fb.keys())):
                    if key not in fa or key not in fb or not (
                            np.array_equal(fa[key].values(), fb[key].values())
                            and np.array_equal(fa[key].variances(), fb[key].variances())):
                        out.append(f"{name}: {key}")
    return out


def main() -> int:
    a, b = (Path(p) for p in sys.argv[1:3])
    diff = differences(a, b)
    print("identical results" if not diff else "differ: " + ", ".join(diff))
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
