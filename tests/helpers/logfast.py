"""Shared by the report fast path's tests (test_log_fast*.py): generated logs, files with a fixed mtime
(the year guess of classic stamps reads it), and the proof that a report equals the full parser's."""

from __future__ import annotations

import importlib.util
import io
import os
import time
from pathlib import Path

from mailtop.logs.command import report_data, summarize, summarize_events

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "logs"
CAPTURES = sorted(DATA.glob("*.log"))
MTIME = time.mktime((2025, 11, 26, 0, 0, 0, 0, 0, -1))


def gen_log(lines: int, seed: int, name: str = "postfix-lab") -> str:
    """A log made by the benchmark's generator (tests/bench/gen_maillog.py)."""
    spec = importlib.util.spec_from_file_location("gen_maillog", REPO / "tests" / "bench" / "gen_maillog.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = io.StringIO()
    mod.Gen(out, lines, seed, name).run()
    return out.getvalue()


def write_log(tmp_path: Path, name: str, text: str | bytes) -> Path:
    """``text`` (str: UTF-8, lone surrogates back to their bytes) written to ``tmp_path/name``, dated MTIME."""
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
    os.utime(p, (MTIME, MTIME))
    return p


def same_report(paths: list[Path], names: tuple[str, ...] = (), max_flows: int = 100_000) -> dict:
    """The fast path's report data equals the full parser's (key by key first, for a readable failure)."""
    ref = report_data(summarize_events(paths, names, max_flows=max_flows), top=50)
    got = report_data(summarize(paths, names, max_flows=max_flows), top=50)
    for key in ref:
        assert got[key] == ref[key], key
    assert got == ref
    return got
