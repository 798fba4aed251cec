"""Output files (:mod:`t2khnl.files`): the umask's mode, atomic replacement, and ROOT files
whose bytes depend on their content only."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest
import uproot

from t2khnl import files, ntuple


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _events(seed: int = 1) -> ak.Array:
    rng = np.random.default_rng(seed)
    return ak.Array({"weight": rng.exponential(1e-20, 200), "e_nu": rng.uniform(0, 5, 200)})


def _histogram() -> hist.Hist:
    h = hist.Hist(hist.axis.Regular(10, 0, 4, name="e_ee", label="E [GeV]"),
                  storage=hist.storage.Weight())
    h.fill([0.5, 1.5, 1.6], weight=[1.0, 2.0, 0.5])
    return h


def test_every_writer_honours_the_umask(tmp_path, umask):
    assert files.umask() == umask
    assert files.file_mode() == 0o666 & ~umask
    written = [
        files.write_text(tmp_path / "a.json", "{}\n"),
        files.write_bytes(tmp_path / "b.bin", b"\0\1"),
        files.write_root(tmp_path / "h.root", {"h": _histogram()}),
        ntuple.write(tmp_path / "n.root", _events(), {"n_events": 200}),
    ]
    for path in written:
        assert _mode(path) == 0o666 & ~umask, (path.name, oct(_mode(path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin", "h.root", "n.root"]
    (tmp_path / "made").mkdir(mode=0o700)  # as tempfile.mkdtemp makes it
    folder = files.apply_folder_mode(tmp_path / "made")
    assert _mode(folder) == 0o777 & ~umask


def test_failed_write_keeps_the_old_file(tmp_path):
    target = files.write_text(tmp_path / "x.txt", "old\n")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_same_content_same_bytes(tmp_path):
    """Two writes of the same events, more than a second apart (ROOT's time stamps have
    a one-second resolution), give the same bytes; other events give another file UUID."""
    first, second, other = (tmp_path / name / "events.root" for name in ("a", "b", "c"))
    for path in (first, second, other):
        path.parent.mkdir()
    meta = {"n_events": 200, "seed": 1}
    ntuple.write(first, _events(), meta)
    files.write_root(first.with_name("h.root"), {"h": _histogram()})
    time.sleep(1.1)
    ntuple.write(second, _events(), meta)
    files.write_root(second.with_name("h.root"), {"h": _histogram()})
    ntuple.write(other, _events(seed=2), meta)
    assert first.read_bytes() == second.read_bytes()
    assert first.with_name("h.root").read_bytes() == second.with_name("h.root").read_bytes()
    with uproot.open(first) as a, uproot.open(other) as c:
        assert a.file.uuid != c.file.uuid
        assert a.created_on == a.modified_on == files.ROOT_TIMESTAMP
        np.testing.assert_array_equal(a["events"]["weight"].array(library="np"),
                                      ak.to_numpy(_events()["weight"]))


def test_time_stamps_are_restored_after_a_write(tmp_path):
    """The fixed stamp applies to t2khnl's writes only: uproot's own encoder is back after."""
    before = uproot._util.datetime_to_code
    files.write_root(tmp_path / "h.root", {"h": _histogram()})
    assert uproot._util.datetime_to_code is before
    with uproot.recreate(tmp_path / "plain.root") as file:
        file["h"] = _histogram()
    with uproot.open(tmp_path / "plain.root") as plain:
        assert plain.created_on.year >= 2024
