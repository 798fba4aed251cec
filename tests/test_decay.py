"""Decay probabilities in boxes against closed forms and brute-force sampling."""

import mpmath as mp
import numpy as np
import pytest

from t2khnl import decay

BOX = decay.Boxes(("a",), np.array([[0.0, 0.0, 5.0]]), np.array([[2.0, 2.0, 1.0]]))


def test_crossings_on_axis():
    origin = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0], [3.0, 0.0, 0.0], [0.0, 0.0, 6.0]])
    direction = np.tile([0.0, 0.0, 1.0], (4, 1))
    cross = decay.crossings(origin, direction, BOX)
    np.testing.assert_allclose(cross.t_in_m[:, 0], [4.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(cross.t_out_m[:, 0], [5.5, 0.5, 0.0, 0.0])


def test_crossings_oblique_path_length():
    # a line at 45 degrees in x-z through the box centre crosses the front/back faces
    direction = np.array([[1.0, 0.0, 1.0]])
    cross = decay.crossings(np.array([[-5.0, 0.0, 0.0]]), direction, BOX)
    np.testing.assert_allclose(cross.t_out_m - cross.t_in_m, [[np.sqrt(2.0)]])


@pytest.mark.parametrize("length_m", [0.01, 1.0, 100.0, 1e8])
def test_probability_closed_form(length_m):
    cross = decay.crossings(np.zeros((1, 3)), np.array([[0.0, 0.0, 1.0]]), BOX)
    prob = decay.probabilities(cross, np.array([length_m]))
    mp.mp.dps = 40
    expected = float(mp.exp(-mp.mpf(4.5) / length_m) - mp.exp(-mp.mpf(5.5) / length_m))
    np.testing.assert_allclose(prob[0, 0], expected, rtol=1e-12, atol=1e-300)


def test_sampled_vertices_follow_truncated_exponential():
    rng = np.random.default_rng(3)
    n = 200_000
    origin = np.zeros((n, 3))
    direction = np.tile([0.0, 0.0, 1.0], (n, 1))
    length = np.full(n, 0.4)
    cross = decay.crossings(origin, direction, BOX)
    prob = decay.probabilities(cross, length)
    box, vertex = decay.sample_vertices(rng, origin, direction, cross, length, prob)
    assert (box == 0).all()
    z = vertex[:, 2]
    assert z.min() >= 4.5 and z.max() <= 5.5
    # mean of an exponential with scale L truncated to [0, 1]
    lam = 1 / 0.4
    mean_expected = 4.5 + 1 / lam - 1 / np.expm1(lam)
    assert z.mean() == pytest.approx(mean_expected, abs=5 * z.std() / np.sqrt(n))


def test_brute_force_decays_match_probability():
    """Unweighted decays drawn from the exponential law land in two boxes as predicted."""
    rng = np.random.default_rng(11)
    boxes = decay.Boxes(
        ("near", "far"),
        np.array([[0.0, 0.0, 2.0], [0.0, 0.0, 4.0]]),
        np.array([[1.0, 1.0, 0.5], [1.0, 1.0, 0.5]]),
    )
    n = 400_000
    origin = np.column_stack([rng.uniform(-0.6, 0.6, (n, 2)), np.zeros(n)])
    direction = np.column_stack([rng.normal(0, 0.05, (n, 2)), np.ones(n)])
    length = rng.uniform(0.5, 3.0, n)
    prob = decay.probabilities(decay.crossings(origin, direction, boxes), length)
    unit = direction / np.linalg.norm(direction, axis=1, keepdims=True)
    point = origin + rng.exponential(length)[:, None] * unit
    for k in range(2):
        low = boxes.centre_m[k] - boxes.width_m[k] / 2
        high = boxes.centre_m[k] + boxes.width_m[k] / 2
        inside = np.all((point >= low) & (point <= high), axis=1).sum()
        assert prob[:, k].sum() == pytest.approx(inside, rel=4 / np.sqrt(inside))


def test_missing_rays_get_zero_probability_and_no_vertex():
    rng = np.random.default_rng(0)
    origin = np.array([[5.0, 5.0, 0.0]])
    direction = np.array([[0.0, 0.0, 1.0]])
    cross = decay.crossings(origin, direction, BOX)
    prob = decay.probabilities(cross, np.array([1.0]))
    box, vertex = decay.sample_vertices(rng, origin, direction, cross, np.array([1.0]), prob)
    assert prob[0, 0] == 0 and box[0] == -1 and np.isnan(vertex).all()
