"""Shared test set-up: the packaged input data, SIREN's import hook."""

from __future__ import annotations

import os

from t2khnl._siren import load as load_siren

# The tests read the data shipped with the package, whatever the calling shell sets.
os.environ.pop("T2KHNL_DATA_DIR", None)

# Tests import siren directly too: load it once through t2khnl, which fixes its import hook
# (t2khnl/_siren.py) before anything else imports it.
load_siren()
