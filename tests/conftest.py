"""Shared test set-up: the input-data folder and a toy SIREN detector."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
os.environ.setdefault("T2KHNL_DATA_DIR", str(DATA_DIR))
