"""Renderers and the exit code of ``mailtop --check``."""

from __future__ import annotations

import argparse
import io
import json
import re

from mailtop.checks import CheckResult, CheckRun
from mailtop.config import load_config
from mailtop.model import Finding, Metric, Status
from mailtop.report import clean, perfdata, render_json, render_nagios, render_text, run_check, use_colour


def _run(*findings: Finding) -> CheckRun:
    results = tuple(CheckResult(f.id.split(".")[0], (f,), "ran", 0.0, 0.01) for f in findings)
    return CheckRun("mx.example.test", 1795600000.0, 0.0, 0.123, results)


F_OK = Finding("system.postfix", Status.OK, "Postfix is running", metrics=(Metric("system.smtp.time", 0.0123, "s",
                                                                                   crit=5, min=0),))
F_WARN = Finding("quota.user.carol", Status.WARNING, "carol uses 92 %", details="2 messages", hint="clean up",
                 metrics=(Metric("quota.carol", 91.9, "%", 90, 98, 0, 100),))
F_UNK = Finding("dns", Status.UNKNOWN, "resolver says \x1b[31mred\x1b[0m\r", details="line1\nline2")
F_CRIT = Finding("tls.imaps", Status.CRITICAL, "certificate expired | badly")


def test_worst_wins_by_severity_not_by_exit_code():
    assert _run(F_OK, F_WARN).status is Status.WARNING
    assert _run(F_OK, F_WARN, F_UNK).status is Status.UNKNOWN
    assert _run(F_UNK, F_CRIT).status is Status.CRITICAL  # CRITICAL (2) outranks UNKNOWN (3)


def test_text_report_escapes_control_characters_and_shows_problems():
    out = render_text(_run(F_OK, F_WARN, F_UNK), colour=False)
    assert out.startswith("mailtop check on mx.example.test at 2026-")
    assert "UNKNOWN (1 UNKNOWN, 1 WARNING, 1 OK) in 0.12 s" in out.splitlines()[0]
    assert "\x1b" not in out and "\\x1b[31mred\\x1b[0m\\x0d" in out
    assert re.search(r"^WARNING\s+quota\.user\.carol\s+carol uses 92 %$", out, re.M)
    assert "hint: clean up" in out and "line2" in out
    assert "Postfix is running" in out  # OK findings are listed, without details


def test_text_report_in_colour():
    out = render_text(_run(F_OK, F_CRIT), colour=True)
    assert "\x1b[32mOK      \x1b[0m" in out and "\x1b[1;31mCRITICAL\x1b[0m" in out


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_no_color_honoured():
    assert use_colour(_Tty(), {}) is True
    assert use_colour(io.StringIO(), {}) is False
    assert use_colour(_Tty(), {"NO_COLOR": "1"}) is False
    assert use_colour(_Tty(), {"NO_COLOR": ""}) is True  # no-color.org: only a non-empty value counts


def test_json_is_one_object_with_findings_and_metrics():
    doc = json.loads(render_json(_run(F_OK, F_WARN)))
    assert doc["host"] == "mx.example.test" and doc["status"] == "WARNING" and doc["exit_code"] == 1
    assert doc["time"] == "2026-11-25T09:46:40Z"
    assert doc["counts"] == {"CRITICAL": 0, "UNKNOWN": 0, "WARNING": 1, "OK": 1}
    carol = doc["findings"][1]
    assert carol["id"] == "quota.user.carol" and carol["hint"] == "clean up" and carol["check"] == "quota"
    assert carol["metrics"] == [{"label": "quota.carol", "value": 91.9, "uom": "%", "warn": 90, "crit": 98,
                                 "min": 0, "max": 100}]


def test_perfdata_format():
    assert perfdata(Metric("quota.carol", 91.9, "%", 90, 98, 0, 100)) == "'quota.carol'=91.9%;90;98;0;100"
    assert perfdata(Metric("queue.total", 12)) == "'queue.total'=12"
    assert perfdata(Metric("system.smtp.time", 0.0123, "s", crit=5, min=0)) == "'system.smtp.time'=0.0123s;;5;0"
    assert perfdata(Metric("it's=odd", 1e7)) == "'its_odd'=10000000"


def test_nagios_status_line_perfdata_and_long_output():
    out = render_nagios(_run(F_OK, F_WARN, F_CRIT))
    first, *rest = out.splitlines()
    head, _, perf = first.partition(" | ")
    assert head.startswith("MAILTOP CRITICAL - tls.imaps: certificate expired / badly; quota.user.carol")
    assert perf == "'system.smtp.time'=0.0123s;;5;0 'quota.carol'=91.9%;90;98;0;100"
    assert rest == ["CRITICAL: tls.imaps: certificate expired / badly", "WARNING: quota.user.carol: carol uses 92 %"]
    assert render_nagios(_run(F_OK)).startswith("MAILTOP OK - 1 checks OK | ")


def test_clean_keeps_newlines_only_when_asked():
    assert clean("a\nb") == "a\\x0ab"
    assert clean("a\nb", keep_newlines=True) == "a\nb"
    assert clean("tab\there") == "tab here"


def test_clean_shows_escape_sequences_bidi_controls_and_undecodable_bytes():
    assert clean("evil\x1b[2J\u202eexe.txt") == "evil\\x1b[2J\\u202eexe.txt"
    assert clean("\u2066a\u2069\u200f\u061c") == "\\u2066a\\u2069\\u200f\\u061c"
    assert clean("caf\udce9 \ud800") == "caf\\xe9 \\ud800"  # a surrogateescape'd byte; a lone surrogate
    assert clean("\x9b31m") == "\\x9b31m"  # 8-bit CSI
    assert clean("é 中文 🙂") == "é 中文 🙂"  # printable text is left alone
    # a finding's text in the --check report goes through the same escaping
    out = render_text(_run(Finding("probe.x", Status.CRITICAL, "reply \u202eevil", details="a\x1b[2Jb")))
    assert "\u202e" not in out and "\x1b" not in out and "reply \\u202eevil" in out and "a\\x1b[2Jb" in out


def _args(fmt="text", only="", skip=""):
    return argparse.Namespace(format=fmt, only=only, skip=skip)


def test_run_check_exit_codes_on_a_real_filesystem(tmp_path, capsys):
    # the storage check needs no service: the mail store is a folder here, judged by thresholds
    (tmp_path / "mail").mkdir()
    cfg_file = tmp_path / "mailtop.toml"
    cfg_file.write_text(f'[mailstore]\npaths = ["{tmp_path / "mail"}"]\n[general]\nhostname = "unit.test"\n')

    def code(**flags):
        layer = {"thresholds": {k: str(v) for k, v in flags.items()}} if flags else None
        cfg = load_config(cfg_file, environ={}, detect=False, flags=layer)
        rc = run_check(_args("json", only="storage"), cfg)
        doc = json.loads(capsys.readouterr().out)
        assert doc["exit_code"] == rc and doc["host"] == "unit.test"
        return rc

    assert code(disk_warn=100, disk_crit=100) == 0
    assert code(disk_warn=0, disk_crit=100) == 1
    assert code(disk_warn=0, disk_crit=0) == 2
    cfg = load_config(cfg_file, environ={}, detect=False)
    assert run_check(_args("nagios", only="nothing.like.this"), cfg) == 3
    assert capsys.readouterr().out.startswith("MAILTOP UNKNOWN - mailtop.selection: --only 'nothing.like.this'")


def test_long_details_are_cut_in_text_but_not_in_json():
    f = Finding("relay.probe", Status.CRITICAL, "open relay", details="\n".join(f"line {i}" for i in range(40)))
    out = render_text(_run(f))
    assert "line 11" in out and "line 12" not in out
    assert "... 28 more lines (--format json shows all)" in out
    assert json.loads(render_json(_run(f)))["findings"][0]["details"].count("\n") == 39
