"""Helpers for the integration tests' command-line runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run_on_terminal(args: list[str], typed: bytes, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """``python -m mailtop ARGS`` with a pseudo-terminal as stdin (so it asks), ``typed`` typed into it
    (``b"y\\n"``, ``b"n\\n"``, ``b"\\x04"`` for Ctrl-D); stdout and stderr captured."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "mailtop", *args], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)})
        os.close(slave)
        slave = -1
        os.write(master, typed)  # the terminal keeps it until the program reads its answer
        out, err = proc.communicate(timeout=timeout)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture
def on_terminal() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_on_terminal`: run mailtop with a terminal as stdin and type an answer."""
    return run_on_terminal
