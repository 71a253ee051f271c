"""Shared fixtures. The lab fixtures read what `services/lab up` wrote into the lab's state folder.

A test that needs the lab fails (it does not skip) when the lab is not running: the README's test
command starts it, and a silently skipped integration test would prove nothing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailtop.config import Config, load_config

REPO = Path(__file__).resolve().parent.parent

# Helper modules shared by test files (tests/helpers/logfast.py) are imported by name. Not a conftest in
# tests/unit: the last conftest pytest loads is the one `from conftest import ...` (tests/tui) then finds.
_HELPERS = str(REPO / "tests" / "helpers")
if _HELPERS not in sys.path:
    sys.path.append(_HELPERS)


def lab_dir() -> Path:
    return Path(os.environ.get("MAILTOP_LAB_DIR", REPO / ".lab")).resolve()


@pytest.fixture(scope="session")
def lab() -> dict:
    """Facts about the running lab (ports, users, passwords, paths): ``<lab>/lab.json``."""
    info = lab_dir() / "lab.json"
    if not info.is_file():
        pytest.fail(f"the lab is not set up ({info} missing): run 'services/lab up' first", pytrace=False)
    return json.loads(info.read_text())


@pytest.fixture(scope="session")
def lab_config(lab: dict) -> Config:
    """mailtop's configuration for the lab, exactly as a user gets it from ``<lab>/mailtop.toml``."""
    return load_config(Path(lab["state_dir"]) / "mailtop.toml", environ={}, detect=False)


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A loopback port that accepts TCP (the kernel completes the handshake) and never says a word."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port that refuses connections: bound once, never listened on, closed."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
