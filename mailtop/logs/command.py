"""``mailtop report [--json] [FILE ...]``: what happened in a mail log, in the spirit of pflogsumm.

Files are read in the order given (rotated ``.gz`` files directly); ``-`` or no FILE with a pipe on
stdin reads stdin; no FILE at a terminal reads ``[logs] files`` of the config. The grand totals are
counted exactly as pflogsumm counts them (docs/report.md says where mailtop adds to them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailtop.config import Config
    from mailtop.logs.stats import LogStats

_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c != 0x09}


def safe(text: str) -> str:
    """Log text for a terminal: control characters (escape sequences) shown as ``\\xNN``."""
    return text.translate(_CONTROL)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="log files (.gz too); '-' is stdin")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--syslog-name", action="append", default=[], metavar="NAME",
                        help="count only Postfix lines of this syslog_name (and NAME/...), like pflogsumm's "
                             "--syslog-name; may be repeated. Default: every instance")
    parser.add_argument("--top", type=int, default=10, metavar="N", help="rows per top list (default 10)")


def input_paths(args: argparse.Namespace, cfg: Config) -> list[str | None]:
    if args.files:
        return [None if f == "-" else f for f in args.files]
    if not sys.stdin.isatty():
        return [None]
    return [str(p) for p in cfg.logs.files]


def summarize(paths: Iterable[str | os.PathLike[str] | None], syslog_names: Iterable[str] = (),
              errors: list[tuple[str, OSError]] | None = None, max_flows: int = 100_000) -> LogStats:
    """Whole files -> ``LogStats`` for the report: the fast path (``mailtop.logs.fast``), whose answers
    equal ``summarize_events``' (tests/unit/test_log_fast.py)."""
    from mailtop.logs.fast import summarize_fast

    return summarize_fast(paths, syslog_names, errors, max_flows)


def summarize_events(paths: Iterable[str | os.PathLike[str] | None], syslog_names: Iterable[str] = (),
                     errors: list[tuple[str, OSError]] | None = None, max_flows: int = 100_000) -> LogStats:
    """Whole files -> ``LogStats`` through ``LineParser.parse`` and ``LogStats.add``, one ``LogEvent`` per
    line (the reference the fast path is tested against; ``recent_flows`` works here)."""
    from mailtop.logs.flows import FlowTracker
    from mailtop.logs.follow import for_each_input, read_lines
    from mailtop.logs.parse import LineParser
    from mailtop.logs.stats import LogStats

    stats = LogStats(syslog_names=syslog_names, flows=FlowTracker(max_flows=max_flows))
    add = stats.add
    def consume(path: Any, ref: float | None) -> None:
        parse = LineParser(ref).parse
        for batch in read_lines(path):
            for line in batch:
                add(parse(line))

    for_each_input(paths, errors, consume)
    return stats


def report_data(stats: LogStats, top: int = 10) -> dict[str, Any]:
    from dataclasses import asdict

    from mailtop.logs.stats import WINDOWS

    def delays(d: Any) -> dict[str, Any]:
        return asdict(d)

    windows = {}
    for name, sec in WINDOWS.items():
        windows[name] = asdict(stats.counts(sec))
    return {
        "lines": stats.lines,
        "unparsed": stats.unparsed,
        "skipped_other_instances": stats.skipped,
        "first": stats.first_ts or None,
        "last": stats.last_ts or None,
        "totals": asdict(stats.totals()),
        "extra": {
            "expired": stats.all_counts["expired"],
            "milter_rejected_smtpd": stats.all_counts["milter_rejected_smtpd"],
            "logins": stats.all_counts["logins"],
            "auth_failures": stats.all_counts["auth_failures"],
            "warnings": stats.all_counts["warnings"],
            "errors": stats.all_counts["errors"],
        },
        "windows": windows,
        "delays": {
            "all": delays(stats.delays()),
            "last_hour": delays(stats.delays(3600.0)),
            "by_relay": {k: delays(v) for k, v in _top_delays(stats.delays(by="relay", top=top), top)},
            "by_domain": {k: delays(v) for k, v in _top_delays(stats.delays(by="domain", top=top), top)},
        },
        "reasons": {cat: [{"reason": r, "count": n} for _, r, n in stats.top_reasons(cat, n=top)]
                    for cat in ("deferred", "bounced", "rejected", "reject_warnings", "warning", "fatal", "panic")},
        "auth_failures_by_client": [{"client": c, "count": n} for c, n in stats.auth_failures(n=top)],
        "logins_by_client": [{"client": c, "count": n} for c, n in stats.logins(n=top)],
        "top_senders": [{"address": a, "count": n} for a, n in stats.top_senders(top)],
        "top_recipients": [{"address": a, "count": n} for a, n in stats.top_recipients(top)],
        "top_recipient_domains": [{"domain": a, "count": n} for a, n in stats.top_domains(top)],
        "top_sending_domains": [{"domain": a, "count": n} for a, n in stats.top_sending_domains(top)],
    }


def _top_delays(d: Any, n: int) -> list[tuple[str, Any]]:
    return sorted(d.items(), key=lambda kv: (-kv[1].count, kv[0]))[:n]


def _fmt_int(v: int) -> str:
    return f"{v:>8d}"


def _fmt_s(v: float) -> str:
    if v >= 3600:
        return f"{v / 3600:.1f}h"
    if v >= 60:
        return f"{v / 60:.1f}m"
    return f"{v:.2f}s"


def render_text(data: dict[str, Any], out=sys.stdout) -> None:
    import time

    w = out.write
    t = data["totals"]
    if data["first"]:
        fmt = "%Y-%m-%d %H:%M:%S"
        w(f"Mail log {time.strftime(fmt, time.localtime(data['first']))} .. "
          f"{time.strftime(fmt, time.localtime(data['last']))}: {data['lines']} lines, "
          f"{data['unparsed']} unparsed\n")
    else:
        w(f"Mail log: {data['lines']} lines, {data['unparsed']} unparsed, no mail events\n")
    w("\nGrand Totals (as pflogsumm counts them)\n---------------------------------------\n")
    for key, label in (("received", "received"), ("delivered", "delivered"), ("forwarded", "forwarded")):
        w(f"{_fmt_int(t[key])}  {label}\n")
    w(f"{_fmt_int(t['deferred'])}  deferred  ({t['deferrals']} deferrals)\n")
    for key, label in (("bounced", "bounced"), ("rejected", "rejected"), ("reject_warnings", "reject warnings"),
                       ("held", "held"), ("discarded", "discarded")):
        w(f"{_fmt_int(t[key])}  {label}\n")
    w("\n")
    for key, label in (("bytes_received", "bytes received"), ("bytes_delivered", "bytes delivered"),
                       ("senders", "senders"), ("sending_domains", "sending hosts/domains"),
                       ("recipients", "recipients"), ("recipient_domains", "recipient hosts/domains")):
        w(f"{_fmt_int(t[key])}  {label}\n")
    x = data["extra"]
    w(f"\nAlso: {x['expired']} expired, {x['logins']} logins, {x['auth_failures']} authentication failures, "
      f"{x['warnings']} warnings, {x['errors']} fatal/panic/error lines")
    if x["milter_rejected_smtpd"]:
        w(f", {x['milter_rejected_smtpd']} milter rejects in smtpd")
    if data["skipped_other_instances"]:
        w(f", {data['skipped_other_instances']} lines of other Postfix instances skipped")
    w("\n")
    w("\nLast minutes of the log   received delivered deferred bounced rejected logins authfail\n")
    for name in ("5m", "1h", "all"):
        c = data["windows"][name]
        w(f"  {name:<22}  {c['received']:>8} {c['delivered']:>9} {c['deferred']:>8} {c['bounced']:>7} "
          f"{c['rejected']:>8} {c['logins']:>6} {c['auth_failures']:>8}\n")
    d = data["delays"]
    w("\nDelivery delays (final deliveries: sent or bounced)\n")
    # as wide as the longest relay or domain (a relay is host[address]:port), within 40..72 columns
    lw = max([40] + [len(safe(f"relay {k}")) for k in d["by_relay"]] + [len(safe(f"domain {k}")) for k in d["by_domain"]])
    lw = min(lw, 72)
    w(f"  {'':<{lw}} {'count':>7} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}\n")

    def drow(label: str, s: dict[str, Any]) -> None:
        label = safe(label)
        if len(label) > lw:                     # cut in the middle: the host and the port both stay
            label = label[: lw // 2 - 1] + "…" + label[len(label) - (lw - lw // 2):]
        w(f"  {label:<{lw}} {s['count']:>7} {_fmt_s(s['p50']):>8} {_fmt_s(s['p90']):>8} "
          f"{_fmt_s(s['p99']):>8} {_fmt_s(s['max']):>8}\n")

    drow("all", d["all"])
    drow("last hour", d["last_hour"])
    for k, s in d["by_relay"].items():
        drow(f"relay {k}", s)
    for k, s in d["by_domain"].items():
        drow(f"domain {k}", s)
    titles = {"deferred": "Deferral reasons", "bounced": "Bounce reasons", "rejected": "Reject reasons",
              "reject_warnings": "Reject warnings", "warning": "Warnings", "fatal": "Fatal errors",
              "panic": "Panics"}
    for cat, rows in data["reasons"].items():
        if rows:
            w(f"\n{titles[cat]}\n")
            for r in rows:
                w(f"{_fmt_int(r['count'])}  {safe(r['reason'])}\n")
    for key, title, field in (
        ("auth_failures_by_client", "Authentication failures by client", "client"),
        ("logins_by_client", "Logins by client", "client"),
        ("top_senders", "Top senders", "address"),
        ("top_recipients", "Top recipients", "address"),
        ("top_recipient_domains", "Top recipient domains", "domain"),
        ("top_sending_domains", "Top sending hosts/domains", "domain"),
    ):
        rows = data[key]
        if rows:
            w(f"\n{title}\n")
            for r in rows:
                w(f"{_fmt_int(r['count'])}  {safe(r[field])}\n")


def run(args: argparse.Namespace, cfg: Config) -> int:
    from mailtop.logs.stats import unreadable_finding

    paths = input_paths(args, cfg)
    if not paths:
        print("mailtop report: no log file given and none configured ([logs] files); "
              "give FILE arguments or pipe a log on stdin", file=sys.stderr)
        return 2
    errors: list[tuple[str, OSError]] = []
    stats = summarize(paths, args.syslog_name or cfg.logs.syslog_names, errors, max_flows=cfg.logs.max_flows)
    for path, exc in errors:
        f = unreadable_finding(path, exc)
        print(f"mailtop report: {f.summary}\n  hint: {f.hint}", file=sys.stderr)
    if len(errors) == len(paths):
        return 2
    data = report_data(stats, top=max(1, args.top))
    if errors:
        data["errors"] = [{"file": p, "error": str(e)} for p, e in errors]
    try:
        if args.json:
            json.dump(data, sys.stdout, indent=1, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            render_text(data)
        sys.stdout.flush()
    except BrokenPipeError:   # `mailtop report | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 1 if errors else 0
