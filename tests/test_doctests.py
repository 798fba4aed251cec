"""The examples in the docstrings of t2khnl's small pure functions run and hold.

A list of modules rather than ``--doctest-modules``: that would import every module of the
package, the plotting ones included (matplotlib is optional).
"""

from __future__ import annotations

import doctest
import importlib

import pytest

#: Modules whose docstrings carry examples, with the least number of examples each.
MODULES = {
    "t2khnl.errors": 4,
    "t2khnl.t2k2019": 2,
    "t2khnl.model": 3,
    "t2khnl.couplings": 4,
    "t2khnl.reweight": 3,
    "t2khnl.xsec": 2,
    "t2khnl.decay": 2,
    "t2khnl.kaon": 2,
    "t2khnl.geometry.spec": 1,
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
    assert result.attempted >= MODULES[name], (name, result.attempted)
