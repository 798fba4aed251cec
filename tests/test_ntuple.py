"""ROOT ntuples (:mod:`t2khnl.ntuple`): round trip, corrupt inputs, output checks, atomicity,
and a cross-check of the written TTree with ROOT's own RDataFrame."""

from __future__ import annotations

import math
import os

import awkward as ak
import numpy as np
import pytest
import uproot

from t2khnl import ntuple
from t2khnl.errors import InputError, InputFileError

N_EVENTS = 500


def _events(n: int = N_EVENTS, seed: int = 3) -> ak.Array:
    rng = np.random.default_rng(seed)
    return ak.zip(
        {
            "weight": rng.exponential(1e-21, n),
            "e_nu": rng.uniform(0.5, 5.0, n),
            "target_pdg": rng.choice([1000060120, 1000080160], n).astype(np.int32),
            "fv_index": rng.integers(0, 3, n).astype(np.int32),
            "ep_p4": ak.to_regular(ak.Array(rng.normal(size=(n, 4))), axis=1),
        },
        depth_limit=1,
    )


def _metadata(n: int = N_EVENTS) -> dict:
    return {"n_events": n, "mass_gev": 0.47, "detector": "nd280",
            "versions": {"t2khnl": "test"}, "regions": ["rock", "tpc_gas"]}


@pytest.fixture
def written(tmp_path):
    path = tmp_path / "sample.root"
    events = _events()
    ntuple.write(path, events, _metadata())
    return path, events


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


def test_round_trip(written):
    path, events = written
    back, meta = ntuple.read(path)
    assert meta == _metadata()
    assert sorted(back.fields) == sorted(events.fields)
    assert len(back) == len(events)
    for name in events.fields:
        assert ak.to_numpy(back[name]).dtype == ak.to_numpy(events[name]).dtype, name
        np.testing.assert_array_equal(ak.to_numpy(back[name]), ak.to_numpy(events[name]))
    assert back["ep_p4"].type.content.size == 4  # fixed-size inner dimension kept


def test_written_as_ttree_and_tobjstring(written):
    path, _ = written
    with uproot.open(path) as file:
        classes = {k.split(";")[0]: v for k, v in file.classnames().items()}
        assert classes == {"events": "TTree", "metadata": "TObjString"}
        assert file["events"]["ep_p4"].typename == "double[4]"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_empty_sample_round_trip(tmp_path):
    path = tmp_path / "empty.root"
    ntuple.write(path, _events()[:0], _metadata(0))
    back, meta = ntuple.read(path)
    assert len(back) == 0 and meta["n_events"] == 0
    assert "weight" in back.fields


@pytest.mark.parametrize("keep", [0, 100, 0.5, -200, -40])
def test_truncated_file(written, tmp_path, keep):
    path, _ = written
    data = path.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    broken = tmp_path / "truncated.root"
    broken.write_bytes(data[:cut])
    with pytest.raises(InputFileError) as err:
        ntuple.read(broken)
    assert str(broken) in _one_line(err)


def test_not_a_root_file(tmp_path):
    path = tmp_path / "notes.root"
    path.write_text("this is not a ROOT file\n" * 20)
    with pytest.raises(InputFileError, match="not a ROOT file") as err:
        ntuple.read(path)
    assert str(path) in _one_line(err)


def test_root_file_without_events(tmp_path):
    path = tmp_path / "other.root"
    with uproot.recreate(path) as file:
        file["something"] = "else"
    with pytest.raises(InputFileError, match="not a t2khnl ntuple") as err:
        ntuple.read(path)
    assert str(path) in _one_line(err)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.root"
    with pytest.raises(InputFileError, match="does not exist") as err:
        ntuple.read(path)
    assert str(path) in _one_line(err)


def test_event_count_mismatch(tmp_path):
    path = tmp_path / "short.root"
    ntuple.write(path, _events(), _metadata(N_EVENTS + 1))
    with pytest.raises(InputFileError, match="metadata says"):
        ntuple.read(path)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights(tmp_path, bad):
    events = _events()
    weight = ak.to_numpy(events["weight"]).copy()
    weight[7] = bad
    events = ak.with_field(events, weight, "weight")
    path = tmp_path / "nan.root"
    ntuple.write(path, events, _metadata())
    with pytest.raises(InputFileError, match="non-finite weights") as err:
        ntuple.read(path)
    assert str(path) in _one_line(err)


def test_check_writable_ok(tmp_path):
    assert ntuple.check_writable(tmp_path / "out.root") == (tmp_path / "out.root").resolve()
    assert list(tmp_path.iterdir()) == []  # the write probe leaves nothing behind


def test_check_writable_missing_folder(tmp_path):
    with pytest.raises(InputError, match="does not exist") as err:
        ntuple.check_writable(tmp_path / "nowhere" / "out.root")
    assert "nowhere" in _one_line(err)


def test_check_writable_folder_given(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        ntuple.check_writable(tmp_path)


def test_check_writable_under_a_file(tmp_path):
    # As root, chmod does not make a folder read-only; a "folder" that is a file is
    # unwritable for everyone.
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        ntuple.check_writable(blocker / "out.root")
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores folder permissions")
def test_check_writable_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot write"):
            ntuple.check_writable(folder / "out.root")
    finally:
        folder.chmod(0o755)


def test_write_checks_target(tmp_path):
    with pytest.raises(InputError):
        ntuple.write(tmp_path / "nowhere" / "out.root", _events(), _metadata())


@pytest.fixture
def failing_tree(monkeypatch):
    """Make the TTree assignment fail after the file (and its metadata) were started."""
    def boom(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(uproot.writing.writable.WritableDirectory, "mktree", boom)
    monkeypatch.setattr(uproot.writing.writable.WritableDirectory, "__setitem__", boom)


def test_failed_write_leaves_nothing(tmp_path, failing_tree):
    target = tmp_path / "out.root"
    with pytest.raises(RuntimeError, match="simulated"):
        ntuple.write(target, _events(), _metadata())
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_existing_target(tmp_path, monkeypatch):
    target = tmp_path / "out.root"
    ntuple.write(target, _events(seed=1), _metadata())
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(uproot.writing.writable.WritableDirectory, "mktree", boom)
    with pytest.raises(RuntimeError, match="simulated"):
        ntuple.write(target, _events(seed=2), _metadata())
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.root"]
    back, _ = ntuple.read(target)
    np.testing.assert_array_equal(ak.to_numpy(back["weight"]),
                                  ak.to_numpy(_events(seed=1)["weight"]))


def test_rdataframe_reads_ntuple(written):
    ROOT = pytest.importorskip("ROOT")
    path, events = written
    frame = ROOT.RDataFrame(ntuple.TREE, str(path))
    total = frame.Sum("weight").GetValue()
    count = frame.Count().GetValue()
    expected = float(np.sum(ak.to_numpy(ntuple.read(path)[0]["weight"])))
    assert total == pytest.approx(expected, rel=1e-12)
    assert total == pytest.approx(float(np.sum(ak.to_numpy(events["weight"]))), rel=1e-12)
    assert count == len(events)
    fv = frame.Filter("fv_index == 1").Count().GetValue()
    assert fv == int(np.sum(ak.to_numpy(events["fv_index"]) == 1))
