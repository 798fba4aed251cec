"""The typed, frozen Preset (t2khnl.config): built once from YAML + schema, passed down."""

from __future__ import annotations

import dataclasses
import pickle
import typing

import pytest
import yaml

from t2khnl import compare, config
from t2khnl.config import Preset, Statistics
from t2khnl.errors import InputError


def test_preset_is_frozen_and_typed():
    preset = config.load("corrected")
    assert isinstance(preset, Preset) and isinstance(preset.statistics, Statistics)
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.br_ee_formula = "published"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.statistics.calctype = "toybased"  # type: ignore[misc]
    assert preset.channels == ("coherent", "p-el", "n-el")  # a tuple: hashable, immutable
    hash(preset)
    # the enums of the schema are the Literal types of the fields
    hints = typing.get_type_hints(Preset)
    schema = config._schema()["properties"]
    for key in ("geometry_variant", "width_convention", "br_ee_formula", "rhc_primary"):
        assert set(typing.get_args(hints[key])) == set(schema[key]["enum"])
    assert set(typing.get_args(typing.get_type_hints(Statistics)["calctype"])) == set(
        schema["statistics"]["properties"]["calctype"]["enum"])
    # every schema key is a field, and back
    assert {f.name for f in dataclasses.fields(Preset)} == set(schema)


def test_a_wrong_type_in_yaml_fails_validation_with_its_path(tmp_path):
    spec = config.load("corrected").to_dict()
    spec["statistics"]["t2k_backgrounds"] = "yes"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(InputError, match=r"invalid preset at statistics/t2k_backgrounds: "
                                         r"'yes' is not of type 'boolean'"):
        config.load(str(path))
    with pytest.raises(InputError, match=r"invalid preset at channels/0"):
        config.validate({**config.load("corrected").to_dict(), "channels": ["photon"]})


def test_preset_round_trips_through_its_mapping_and_pickles():
    for name in config.PRESETS:
        preset = config.load(name)
        assert config.validate(preset.to_dict()) == preset
        assert pickle.loads(pickle.dumps(preset)) == preset
    assert config.resolve(config.load("published")) == config.load("published")


def test_the_walk_ends_at_corrected_as_a_preset():
    steps = compare.steps()
    assert all(isinstance(step.preset, Preset) for step in steps)
    assert steps[0].preset == config.load("published")
    corrected = config.load("corrected")
    # equal but for the labels: the last step is the corrected preset under another name
    assert dataclasses.replace(steps[-1].preset, name=corrected.name,
                               description=corrected.description) == corrected
    assert len({step.preset.digest() for step in steps}) == len(steps)


def test_with_settings_validates():
    preset = config.load("corrected")
    assert preset.with_settings({"pauli_blocking": False}).pauli_blocking is False
    with pytest.raises(InputError, match="invalid preset at pauli_blocking"):
        preset.with_settings({"pauli_blocking": "no"})
    with pytest.raises(InputError, match="Additional properties"):
        preset.with_settings({"no_such_key": 1})


def test_the_walk_scans_preset_values_and_writes_no_preset_files(tmp_path):
    """compare.jobs hands each step's Preset to the scan (no YAML written); each step's
    folder is bound to its preset's name and content digest, and every mass sees the
    step's preset."""
    import json

    import _fake_limit

    from t2khnl import scan

    walk = compare.jobs(tmp_path, [0.3], n_events=200)
    assert not any(tmp_path.iterdir())
    steps = compare.steps()
    assert [job.preset for job in walk] == [step.preset for step in steps]
    seen = []

    def runner(detector, mass_gev, *, preset, **kwargs):
        seen.append(preset)
        return _fake_limit.run(detector, mass_gev, preset=preset, **kwargs)

    scan.scan_many([dataclasses.replace(job, runner=runner) for job in walk], progress=False)
    assert seen == [step.preset for step in steps]
    for job, step in zip(walk, steps, strict=True):
        bound = json.loads((job.output_dir / "scan.json").read_text())
        assert bound["preset"] == step.preset.name
        assert bound["preset_sha256"] == step.preset.digest()
    assert not (tmp_path / "presets").exists()
