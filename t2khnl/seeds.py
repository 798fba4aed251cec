"""The seeds of a scan: one per mass, from the scan seed and the mass's index, and one per
further attempt at a mass; the same command gives the same seeds whatever the executor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Per-mass seeds stay below this: the generator seeds SIREN with (seed·100 + box)·100 + layer,
#: which SIREN_random takes as a 32-bit unsigned integer.
MAX_MASS_SEED = 429_000


def mass_seed(seed: int, index: int) -> int:
    """The base seed of the ``index``-th mass of a scan with seed ``seed`` (deterministic).

    :func:`mass_seeds` makes the seeds of one scan distinct.

    Args:
        seed: the scan's seed (>= 0).
        index: position of the mass in the sorted mass list.

    Returns:
        A seed in [0, ``MAX_MASS_SEED``).
    """
    state = np.random.SeedSequence(entropy=seed, spawn_key=(index,)).generate_state(1)
    return int(state[0]) % MAX_MASS_SEED


def mass_seeds(seed: int, n_masses: int) -> list[int]:
    """Distinct seeds of the masses of a scan: :func:`mass_seed`, a collision moved up by 1.

    Args:
        seed: the scan's seed (>= 0).
        n_masses: number of masses.

    Returns:
        One seed per mass index, all distinct, each in [0, ``MAX_MASS_SEED``).
    """
    seeds: list[int] = []
    for index in range(n_masses):
        value = mass_seed(seed, index)
        while value in seeds:
            value = (value + 1) % MAX_MASS_SEED
        seeds.append(value)
    return seeds


def attempt_seed(seed: int, attempt: int, samples: Mapping[str, Any]) -> int:
    """The seed of a mass's attempt: the mass's own first, then, when the new events are
    pooled with the earlier ones (``samples`` not empty), an independent one per attempt
    (:func:`mass_seed`)."""
    return seed if attempt == 0 or not samples else mass_seed(seed, attempt)


__all__ = ["MAX_MASS_SEED", "attempt_seed", "mass_seed", "mass_seeds"]
