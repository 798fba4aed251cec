"""Bad inputs of the six commands, each with words its one-line message must hold.

Shared by ``tests/test_bad_input.py`` (in process, every row checked) and
``benchmarks/bad_input_table.py`` (the installed command, the table of the README's note).
Outputs are relative paths: a run must leave its working folder as it found it.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    """One bad command line.

    Attributes:
        args: the arguments after ``t2khnl``.
        words: what the message must contain (case-insensitive).
        slow: waits for a timeout (a scheduler that never answers): left to the table.
    """

    args: tuple[str, ...]
    words: tuple[str, ...]
    slow: bool = False


def _case(line: str, *words: str, slow: bool = False) -> Case:
    return Case(tuple(line.split()), words, slow)


CASES: list[Case] = [
    # simulate
    _case("simulate --detector superk", "--detector", "superk", "nd280"),
    _case("simulate --beam numi", "--beam", "numi", "fhc"),
    _case("simulate --preset paper", "--preset", "paper", "corrected"),
    _case("simulate --preset mine.yaml", "mine.yaml", "does not exist"),
    _case("simulate --mass 0", "mass", "0.0 GeV"),
    _case("simulate --mass -0.3", "mass", "-0.3 GeV"),
    _case("simulate --mass nan", "mass", "nan"),
    _case("simulate --mass heavy", "--mass", "heavy"),
    _case("simulate --mass 23", "23.0 GeV", "largest mass", "22.67 GeV", "Pb208"),
    _case("simulate --beam rhc --mass 18.5", "18.5 GeV", "RHC", "18.15 GeV"),
    _case("simulate --detector upgrade --mass 21", "21.0 GeV", "20.52 GeV", "Cu65"),
    _case("simulate --mass 40", "40.0 GeV", "FHC flux", "ends at 24 GeV", "22.67 GeV"),
    _case("simulate --coupling 0", "coupling", "GeV^-1"),
    _case("simulate --events 0", "number of events", "0"),
    _case("simulate --events 1.5", "--events", "1.5"),
    _case("simulate --seed -1", "seed", "-1"),
    _case("simulate --data-dir nowhere", "data folder", "nowhere"),
    _case("simulate --output nowhere/events.root", "cannot write", "does not exist"),
    _case("simulate --colour red", "no such option", "--colour"),
    # limit
    _case("limit --mass -1 --output lim", "mass", "-1.0 GeV"),
    _case("limit --mass 20 --output lim", "20.0 GeV", "RHC", "18.15 GeV"),
    _case("limit --output lim", "missing option", "--mass"),
    _case("limit --mass 0.47 --detector superk --output lim", "--detector", "superk"),
    _case("limit --mass 0.47 --pot -1 --output lim", "--pot", "-1"),
    _case("limit --mass 0.47 --flux-xsec 2 --output lim", "--flux-xsec", "(0, 1)"),
    _case("limit --mass 0.47 --events 0 --output lim", "number of events", "0"),
    _case("limit --mass 0.47 --d-range 1e-3:1e-8 --output lim", "--d-range", "lo < hi"),
    _case("limit --mass 0.47 --d-range 1e-8 --output lim", "--d-range", "lo:hi"),
    _case("limit --mass 0.47 --data-dir nowhere --output lim", "data folder", "nowhere"),
    # scan
    _case("scan --masses 2:1:3log --output scn", "mass range", "reversed"),
    _case("scan --masses 0.1,abc --output scn", "cannot parse mass", "abc"),
    _case("scan --masses 0.1,0.1 --output scn", "0.1", "distinct"),
    _case("scan --masses 0.1 --preset paper --output scn", "--preset", "paper"),
    _case("scan --masses 0.1 --events 0 --output scn", "--events", "0"),
    _case("scan --masses 0.1 --precision -1 --output scn", "--precision", "-1"),
    _case("scan --masses 0.1 --workers 0 --output scn", "--workers", "0"),
    _case("scan --masses 0.1 --d-range 0:1e-3 --output scn", "--d-range", "0 < lo"),
    _case("scan --masses 0.1 --pot 0 --output scn", "--pot", "positive"),
    _case("scan --masses 0.1 --data-dir nowhere --output scn", "data folder", "nowhere"),
    _case("scan --masses 0.1 --scheduler tcp://127.0.0.1:9 --scheduler-file s.json "
          "--output scn", "--scheduler", "--scheduler-file", "not both"),
    _case("scan --masses 0.1 --scheduler-file missing.json --output scn",
          "scheduler file", "did not appear", slow=True),
    _case("scan --masses 0.1 --scheduler tcp://127.0.0.1:9 --output scn",
          "cannot reach", "127.0.0.1:9", slow=True),
    # reproduce
    _case("reproduce --preset paper --output rep", "--preset", "paper", "published"),
    _case("reproduce --workers 0 --output rep", "--workers", "0"),
    _case("reproduce --seed -1 --output rep", "--seed", "-1"),
    _case("reproduce --data-dir nowhere --output rep", "data folder", "nowhere"),
    _case("reproduce --quick", "missing option", "--output"),
    _case("reproduce --scheduler-file missing.json --output rep", "scheduler file",
          "did not appear", slow=True),
    # validate authors
    _case("validate authors", "missing option", "--output"),
    _case("validate authors --events 0 --output val", "number of events", "0"),
    _case("validate authors --masses 3,a --output val", "--masses", "3,a"),
    _case("validate authors --masses 12 --output val", "grid mass", "12"),
    _case("validate authors --points 100 --output val", "grid index", "100"),
    _case("validate authors --points 5,x --output val", "--points", "5,x"),
    _case("validate authors --detector superk --output val", "--detector", "superk"),
    _case("validate authors --beam numi --output val", "--beam", "numi"),
    _case("validate authors --seed -1 --output val", "seed", "-1"),
    _case("validate authors --data-dir nowhere --output val", "data folder", "nowhere"),
    # validate paper-grid
    _case("validate paper-grid", "missing option", "--output"),
    _case("validate paper-grid --events 0 --output pg", "number of events", "0"),
    _case("validate paper-grid --detector superk --output pg", "--detector", "superk"),
    _case("validate paper-grid --seed -1 --output pg", "seed", "-1"),
    _case("validate paper-grid --scan nd280 --output pg", "--scan", "DETECTOR=FOLDER", "nd280"),
    _case("validate paper-grid --scan superk=. --output pg", "--scan", "superk=."),
    _case("validate paper-grid --scan nd280=nowhere --output pg", "scan folder", "nowhere"),
    _case("validate paper-grid --scan-dir nowhere --output pg", "--scan-dir", "nowhere"),
    _case("validate paper-grid --data-dir nowhere --output pg", "data folder", "nowhere"),
    _case("validate sirens --output val", "no such command", "sirens"),
]
