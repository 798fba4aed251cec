"""Shared test set-up: the input-data folder and a toy SIREN detector."""

from __future__ import annotations

import os
from pathlib import Path

from t2khnl._siren import load as load_siren

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
os.environ.setdefault("T2KHNL_DATA_DIR", str(DATA_DIR))

# Tests import siren directly too: load it once through t2khnl, which fixes its import hook
# (t2khnl/_siren.py) before anything else imports it.
load_siren()
