"""Helpers for the dashboard's tests: an app built from a config and fixed sources, a fixed clock."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mailtop.config import Config, load_config
from mailtop.tui.app import MailtopApp
from mailtop.tui.collect import Source

sys.path.insert(0, str(Path(__file__).parent))

FIXED_NOW = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are local: pin the zone so screens are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def plain_config(tmp_path: Path) -> Config:
    """Defaults only (no file, no environment, no autodetection), with the audit log in tmp."""
    return load_config(
        None, environ={}, detect=False,
        flags={"general": {"hostname": "mail.example.test", "audit_log": str(tmp_path / "audit.log")}},
    )


def fixed(name: str, data: Any, interval: float = 3600.0) -> Source:
    """A source that always returns ``data`` (recorded or fixed data for deterministic screens)."""
    return Source(name, interval, lambda: data)


def sequence(name: str, steps: list[Callable[[], Any]], interval: float = 3600.0) -> Source:
    """A source whose n-th poll runs ``steps[n]`` (the last one repeats)."""
    calls = {"n": 0}

    def fetch() -> Any:
        i = min(calls["n"], len(steps) - 1)
        calls["n"] += 1
        return steps[i]()

    return Source(name, interval, fetch)


def make_app(cfg: Config, sources: list[Source] | None = None, *, read_only: str = "", **kw: Any) -> MailtopApp:
    app = MailtopApp(cfg, sources=sources or [], clock=lambda: FIXED_NOW, read_only=read_only, **kw)
    app.animation_level = "none"
    return app


@pytest.fixture
def no_color_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NO_COLOR", "1")
    yield
    os.environ.pop("NO_COLOR", None)
