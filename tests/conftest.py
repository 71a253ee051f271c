"""Shared fixtures. The lab fixtures read what `services/lab up` wrote into the lab's state folder.

A test that needs the lab fails (it does not skip) when the lab is not running: the README's test
command starts it, and a silently skipped integration test would prove nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mailtop.config import Config, load_config

REPO = Path(__file__).resolve().parent.parent


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
