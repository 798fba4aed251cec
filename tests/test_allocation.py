"""Neyman allocation of a mass's next attempt over the injection strata (t2khnl.allocation)."""

from __future__ import annotations

import numpy as np
import pytest

from t2khnl import allocation, generate, limit, ntuple, scan

pytest.importorskip("siren")

MASS_GEV = 0.133  # ND280 2019: the lower edge from the rock, tens of metres upstream


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same mass twice with the same events: equal shares, then Neyman shares."""
    first_dir, second_dir = (tmp_path_factory.mktemp(n) for n in ("equal", "neyman"))
    first = limit.run("nd280", MASS_GEV, n_events=3000, seed=3, output_dir=first_dir)
    shares = allocation.neyman_shares(first_dir, first, "corrected")
    second = limit.run("nd280", MASS_GEV, n_events=3000, seed=3, output_dir=second_dir,
                       allocation=shares)
    return first_dir, first, shares, second_dir, second


def test_shares_follow_the_edges(runs):
    first_dir, first, shares, *_ = runs
    assert first["d_low"] is not None and first["edges"]["d_low"] == first["d_low"]
    _, meta = ntuple.read(first_dir / "selected_fhc.root")
    layers = meta["strata"]["layer_edges_m"]
    for beam in ("fhc", "rhc"):
        values = np.array(shares[beam])
        assert values.shape == (3, len(layers))
        assert values.sum() == pytest.approx(1.0)
        # the floor, renormalised (floors add at most FLOOR to the sum)
        assert values.min() >= allocation.FLOOR / values.size / (1 + allocation.FLOOR)
        # layer i >= 1 spans layers[i-1]..layers[i] in front of the box; those beyond 3.7 m
        # (the rock) carry the lower edge: they get most of the events
        far = [i for i in range(1, len(layers)) if layers[i - 1] >= 3.0]
        assert values[:, far].sum() > 0.5


def test_neyman_shares_lower_the_edge_error(runs):
    first_dir, first, shares, second_dir, second = runs
    _, meta = ntuple.read(second_dir / "selected_fhc.root")
    upstream = meta["injection_upstream_m"]
    assert meta["strata"]["attempts"] == generate.strata_attempts(3000, 3, upstream,
                                                                  shares["fhc"])
    before = scan.edge_errors(first_dir, first, "corrected")["d_low_err"] / first["d_low"]
    after = scan.edge_errors(second_dir, second, "corrected")["d_low_err"] / second["d_low"]
    assert after < 0.8 * before
    # same physics: the two lower edges agree within their MC errors
    assert abs(second["d_low"] / first["d_low"] - 1) < 3 * np.hypot(before, after)


def test_nothing_to_allocate_without_edges_or_strata(runs, tmp_path):
    first_dir, first, *_ = runs
    nothing = {**first, "edges": {"d_low": None, "d_high": None}}
    assert allocation.neyman_shares(first_dir, nothing, "corrected") is None
    open_only = {**first, "edges": {"d_low": None, "d_high": 1e-3}, "d_high_open": True}
    assert allocation.neyman_shares(first_dir, open_only, "corrected") is None
