"""``mailtop --check``: run the health checks once and print a report (text, JSON or Nagios).

Exit code: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the worst finding wins (``mailtop.model.worst``:
CRITICAL > UNKNOWN > WARNING > OK). A failure of mailtop itself also exits 3, never with a traceback's 1
(which a monitoring system would read as WARNING).

Formats:

- ``text``: for people. One line per finding in registry order, details and hints under problems.
  Colour only when stdout is a terminal and ``NO_COLOR`` is unset or empty (https://no-color.org).
- ``json``: one object ``{"host", "time", "status", "exit_code", "wall_seconds", "counts", "findings": [...]}``;
  each finding has ``id, status, summary, details, hint, metrics, data, check, elapsed_seconds``.
- ``nagios``: ``MAILTOP <STATUS> - <summary> | <perfdata>`` on the first line, then one line per finding
  that is not OK (long output). Perfdata: ``'label'=value[UOM];warn;crit;min;max``.

Text from logs, mail headers and servers is data: control characters are shown escaped, never sent to the
terminal.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import traceback
from collections import Counter
from typing import Any, TextIO

from mailtop.checks import CheckRun
from mailtop.config import Config
from mailtop.model import Finding, Metric, Status, clean

_COLOURS = {
    Status.OK: "\x1b[32m",
    Status.WARNING: "\x1b[33m",
    Status.CRITICAL: "\x1b[1;31m",
    Status.UNKNOWN: "\x1b[35m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"


def use_colour(stream: TextIO, environ: dict[str, str] | os._Environ[str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    if environ.get("NO_COLOR", ""):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _iso(epoch: float) -> str:
    return _dt.datetime.fromtimestamp(epoch, _dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _counts(findings: list[Finding]) -> dict[str, int]:
    c = Counter(f.status.name for f in findings)
    return {s.name: c.get(s.name, 0) for s in (Status.CRITICAL, Status.UNKNOWN, Status.WARNING, Status.OK)}


def _check_of(run: CheckRun) -> dict[str, tuple[str, float]]:
    out = {}
    for r in run.results:
        for f in r.findings:
            out[f.id] = (r.check, r.elapsed)
    return out


# --------------------------------------------------------------------------- text


def render_text(run: CheckRun, colour: bool = False, max_details: int = 12) -> str:
    findings = run.findings
    status = run.status

    def paint(s: Status, text: str) -> str:
        return f"{_COLOURS[s]}{text}{_RESET}" if colour else text

    def dim(text: str) -> str:
        return f"{_DIM}{text}{_RESET}" if colour else text

    counts = _counts(findings)
    tally = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
    lines = [
        f"mailtop check on {clean(run.host)} at {_iso(run.time)}: {paint(status, status.name)}"
        f" ({tally or 'no findings'}) in {run.wall:.2f} s",
        "",
    ]
    width = max((len(f.id) for f in findings), default=10)
    for f in findings:
        lines.append(f"{paint(f.status, f'{f.status.name:<8}')}  {clean(f.id):<{width}}  {clean(f.summary)}")
        if f.status is not Status.OK:
            pad = " " * (10 + width + 2)
            shown = [d for d in clean(f.details, keep_newlines=True).splitlines() if d.strip()]
            for d in shown[:max_details]:
                lines.append(dim(pad + d))
            if len(shown) > max_details:
                lines.append(dim(f"{pad}... {len(shown) - max_details} more lines (--format json shows all)"))
            if f.hint:
                lines.append(pad + "hint: " + clean(f.hint))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- json


def _metric_json(m: Metric) -> dict[str, Any]:
    return {"label": m.label, "value": m.value, "uom": m.uom, "warn": m.warn, "crit": m.crit, "min": m.min,
            "max": m.max}


def report_dict(run: CheckRun) -> dict[str, Any]:
    findings = run.findings
    check_of = _check_of(run)
    return {
        "host": run.host,
        "time": _iso(run.time),
        "status": run.status.name,
        "exit_code": run.status.exit_code,
        "wall_seconds": round(run.wall, 4),
        "counts": _counts(findings),
        "findings": [
            {
                "id": f.id,
                "status": f.status.name,
                "summary": f.summary,
                "details": f.details,
                "hint": f.hint,
                "metrics": [_metric_json(m) for m in f.metrics],
                "data": f.data,
                "check": check_of.get(f.id, ("mailtop", 0.0))[0],
                "elapsed_seconds": round(check_of.get(f.id, ("", 0.0))[1], 4),
            }
            for f in findings
        ],
    }


def render_json(run: CheckRun) -> str:
    return json.dumps(report_dict(run), indent=2, default=str, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- nagios


def _num(v: float | None) -> str:
    if v is None:
        return ""
    if float(v).is_integer():
        return str(int(v))
    return f"{v:.6f}".rstrip("0").rstrip(".")


def perfdata(m: Metric) -> str:
    label = m.label.replace("'", "").replace("=", "_")
    fields = [f"{_num(m.value)}{m.uom}", _num(m.warn), _num(m.crit), _num(m.min), _num(m.max)]
    while len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return f"'{label}'=" + ";".join(fields)


def render_nagios(run: CheckRun) -> str:
    findings = run.findings
    status = run.status
    problems = [f for f in findings if f.status is not Status.OK]
    problems.sort(key=lambda f: -f.status.severity)
    if problems:
        head = "; ".join(f"{f.id}: {f.summary}" for f in problems[:3])
        if len(problems) > 3:
            head += f"; and {len(problems) - 3} more"
    else:
        head = f"{len(findings)} checks OK"
    head = clean(head).replace("|", "/")
    perf = " ".join(perfdata(m) for f in findings for m in f.metrics)
    first = f"MAILTOP {status.name} - {head}" + (f" | {perf}" if perf else "")
    rest = [clean(f"{f.status.name}: {f.id}: {f.summary}").replace("|", "/") for f in problems]
    return "\n".join([first, *rest]) + "\n"


# --------------------------------------------------------------------------- entry point


def run_check(args: argparse.Namespace, cfg: Config) -> int:
    """``mailtop --check``: run, print, return the exit code."""
    fmt = getattr(args, "format", "text") or "text"
    try:
        import asyncio

        from mailtop.checks import run_checks

        run = asyncio.run(run_checks(cfg, only=getattr(args, "only", ""), skip=getattr(args, "skip", "")))
        if fmt == "json":
            out = render_json(run)
        elif fmt == "nagios":
            out = render_nagios(run)
        else:
            out = render_text(run, colour=use_colour(sys.stdout))
    except Exception as exc:  # noqa: BLE001 - mailtop's own failure must exit 3 (UNKNOWN), visibly
        print(f"UNKNOWN - mailtop --check failed: {type(exc).__name__}: {exc}", file=sys.stdout)
        traceback.print_exc(file=sys.stderr)
        return Status.UNKNOWN.exit_code
    sys.stdout.write(out)
    sys.stdout.flush()
    return run.status.exit_code
