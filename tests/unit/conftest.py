"""Unit tests: the shared helper modules in tests/helpers (logfast.py) are importable by name. (Only that
folder goes on sys.path: putting this one there would make ``import conftest`` find this file instead
of tests/tui's.)"""

from __future__ import annotations

import sys
from pathlib import Path

HELPERS = str(Path(__file__).resolve().parent.parent / "helpers")
if HELPERS not in sys.path:
    sys.path.append(HELPERS)
