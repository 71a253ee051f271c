"""``mailtop --check`` on the lab, as a user runs it: formats, exit codes, selection, colour, no Textual."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PERF = re.compile(r"^'[^'=]+'=-?[0-9.]+(s|%|B|KB|MB|TB|c)?(;-?[0-9.]*){0,4}$")


def mailtop(lab, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cfg = Path(lab["state_dir"]) / "mailtop.toml"
    return subprocess.run([sys.executable, "-m", "mailtop", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=60, cwd=REPO, env={**os.environ, **(env or {})})


def on_a_terminal(lab, *args: str, env: dict | None = None) -> str:
    """Run with stdout on a pseudo-terminal and return what it printed."""
    cfg = Path(lab["state_dir"]) / "mailtop.toml"
    master, slave = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.Popen([sys.executable, "-m", "mailtop", "--config", str(cfg), *args], stdout=slave,
                            stderr=subprocess.PIPE, cwd=REPO, env={**environ, **(env or {})})
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait(10)
    os.close(master)
    return out.decode(errors="replace")


def test_json_report_on_the_lab_and_no_textual_imported(lab):
    cfg = Path(lab["state_dir"]) / "mailtop.toml"
    script = textwrap.dedent(
        f"""
        import json, sys
        from mailtop.cli import main
        rc = main(["--config", {str(cfg)!r}, "--check", "--format", "json"])
        print("\\n@@" + json.dumps({{"rc": rc, "modules": sorted(sys.modules)}}))
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    text, _, tail = out.stdout.rpartition("\n@@")
    extra = json.loads(tail)
    assert [m for m in extra["modules"] if m == "textual" or m.startswith("textual.")] == []
    report = json.loads(text)
    assert report["host"] == lab["hostname"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", report["time"])
    order = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}
    worst = max((f["status"] for f in report["findings"]), key=order.__getitem__)
    assert report["status"] == worst
    assert extra["rc"] == report["exit_code"] == {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[worst]
    by = {f["id"]: f for f in report["findings"]}
    for fid in ("system.postfix", "system.dovecot", "dns.resolver", "system.smtp", "tls.imaps", "queue.total",
                "quota.users", "aliases.postmaster"):
        assert by[fid]["status"] == "OK", by[fid]
    assert by["quota.user.carol"]["status"] == "WARNING"
    assert any(i.startswith("dns.") and i != "dns.resolver" for i in by)
    assert any(i.startswith("relay") for i in by)
    assert any(i.startswith("logs.") for i in by)
    assert not any("not available yet" in f["summary"] or "not built" in f["summary"] for f in by.values())
    for f in report["findings"]:
        assert set(f) >= {"id", "status", "summary", "details", "hint", "metrics", "data", "check"}
    m = by["tls.imaps"]["metrics"][0]
    assert m["label"] == "tls.imaps.cert_days" and m["warn"] == 21.0 and m["crit"] == 7.0


def test_nagios_one_status_line_with_perfdata_and_the_exit_code(lab):
    out = mailtop(lab, "--check", "--format", "nagios", "--only", "system,tls,quota,storage")
    first, *rest = out.stdout.splitlines()
    status = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}[out.returncode]
    assert first.startswith(f"MAILTOP {status} - ")
    head, _, perf = first.partition(" | ")
    assert "quota.user.carol" in head  # the problem is named on the status line
    tokens = perf.split(" ")
    assert "'quota.carol'=" in perf and "'tls.smtp.cert_days'=" in perf
    for tok in tokens:
        assert PERF.match(tok), tok
    assert all(line.startswith(("WARNING: ", "CRITICAL: ", "UNKNOWN: ")) for line in rest)


def test_exit_codes_follow_the_worst_finding(lab):
    assert mailtop(lab, "--check", "--only", "system.postfix,tls.imaps").returncode == 0
    assert mailtop(lab, "--check", "--only", "quota").returncode == 1  # carol over 90 %
    assert mailtop(lab, "--check", "--only", "quota", "--set", "thresholds.quota_crit=50").returncode == 2
    bad = mailtop(lab, "--check", "--only", "qouta")
    assert bad.returncode == 3
    assert "matches no check (did you mean 'quota'?)" in bad.stdout


def test_only_and_skip_select_by_dotted_prefix(lab):
    out = mailtop(lab, "--check", "--format", "json", "--only", "tls.imaps")
    assert [f["id"] for f in json.loads(out.stdout)["findings"]] == ["tls.imaps"]
    out = mailtop(lab, "--check", "--format", "json", "--skip", "tls,quota,storage,dns,relay,logs,queue")
    ids = [f["id"] for f in json.loads(out.stdout)["findings"]]
    assert "system.postfix" in ids and "aliases.postmaster" in ids
    assert not [i for i in ids if i.split(".")[0] in ("tls", "quota", "storage", "dns", "relay", "logs", "queue")]


def test_text_has_colour_only_on_a_terminal_and_never_with_no_color(lab):
    piped = mailtop(lab, "--check", "--only", "system.postfix,quota")
    assert "\x1b[" not in piped.stdout
    assert re.search(r"^WARNING\s+quota\.user\.carol\s+carol uses 9\d % of the quota", piped.stdout, re.M)
    assert "hint: " in piped.stdout
    tty = on_a_terminal(lab, "--check", "--only", "system.postfix,quota")
    assert "\x1b[32mOK" in tty and "\x1b[33mWARNING" in tty
    plain = on_a_terminal(lab, "--check", "--only", "system.postfix,quota", env={"NO_COLOR": "1"})
    assert "quota.user.carol" in plain and "\x1b[" not in plain
