"""``mailtop probe [TARGET]``: send a probe to an autoresponder and time the round trip.

TARGET is an address or a preset name (``--presets`` lists them); default ``[probe] target``.
Exit status: 0 a reply came back, 1 no reply in time / bounced / could not send or read the
mailbox, 2 bad usage or configuration (no password, no mailbox configured).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from mailtop.config import Config
    from mailtop.health.probe import HistoryEntry, ProbeResult


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", help="address or preset name (default: [probe] target)")
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for the reply ([probe] timeout)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--presets", action="store_true", help="list the preset responders and exit")
    parser.add_argument("--history", type=int, nargs="?", const=20, metavar="N",
                        help="print the last N round trips from the history (default 20) and exit")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _fmt_s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def render_text(r: ProbeResult, out: TextIO) -> None:
    """The result for a terminal. Text from the servers and the reply (headers, Received hops, reasons) goes
    through :func:`mailtop.model.clean`: escape sequences and bidi controls are shown, never obeyed."""
    from mailtop.model import clean

    print(f"probe {r.token} to {clean(r.target)} from {clean(r.sender)}", file=out)
    if r.submitted_via:
        qid = f", queue ID {clean(r.queue_id)}" if r.queue_id else ""
        print(f"  sent via     {clean(r.submitted_via)} in {_fmt_s(r.submit_seconds)}{qid}", file=out)
    print(f"  status       {r.status}{': ' + clean(r.detail) if r.detail else ''}", file=out)
    if r.round_trip is not None:
        print(f"  round trip   {_fmt_s(r.round_trip)} (accepted -> reply in the mailbox, {r.wait_mode})", file=out)
        print(f"  reply        {clean(r.reply_from)} | {clean(r.reply_subject)}", file=out)
        verdicts = [f"{clean(m.upper())}={clean(r.verdict(m))}" for m in ("spf", "dkim", "dmarc") if r.verdict(m)]
        print(f"  auth results {' '.join(verdicts) if verdicts else 'none present'}", file=out)
        for title, path in (("probe path", r.probe_path), ("reply path", r.reply_path)):
            for i, hop in enumerate(reversed(path)):
                label = title if i == 0 else ""
                print(f"  {label:<12} {clean(hop.from_host or '?')} -> {clean(hop.by_host or '?')}"
                      f" with {clean(hop.protocol or '?')} id {clean(hop.queue_id or '?')}  {clean(hop.date)}",
                      file=out)
    for note in r.notes:
        print(f"  note         {clean(note)}", file=out)
    print(f"  total        {_fmt_s(r.total_seconds)} (timeout {r.timeout:g} s)", file=out)
    if r.history_error:
        print(f"  warning      {clean(r.history_error)}", file=out)


def render_history(entries: tuple[HistoryEntry, ...], out: TextIO) -> None:
    from mailtop.model import clean

    if not entries:
        print("no probes recorded yet", file=out)
        return
    for e in entries:
        print(f"{clean(e.time)}  {clean(e.target):<34} {clean(e.status):<12} round trip {_fmt_s(e.round_trip):>8}",
              file=out)


def run(args: argparse.Namespace, cfg: Config) -> int:
    from mailtop.health.probe import PRESETS, ProbeSettings, read_history, run_probe_sync

    if args.presets:
        for p in PRESETS:
            print(f"{p.name:<10} {p.address:<36} {'public' if p.public else 'local '}  {p.note}")
        return 0
    if args.history is not None:
        entries = read_history(cfg.general.state_dir, limit=args.history)
        if args.json:
            from dataclasses import asdict

            json.dump([asdict(e) for e in entries], sys.stdout, indent=2)
            print()
        else:
            render_history(entries, sys.stdout)
        return 0
    if args.timeout is not None and args.timeout <= 0:
        print("mailtop probe: --timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    try:
        settings = ProbeSettings.from_config(cfg, target=args.target, timeout=args.timeout)
    except ValueError as exc:
        print(f"mailtop probe: {exc}", file=sys.stderr)
        return 2
    from mailtop.health.access import PasswordError
    from mailtop.health.access_command import print_result, resolve_password

    try:
        password = resolve_password(
            env_var=None, file=None, environ=os.environ,
            prompt=f"password for the probe mailbox {settings.mailbox_user}: ",
            fallback_env=cfg.probe.password_env, fallback_file=cfg.probe.password_file, warn=sys.stderr,
        )
    except PasswordError as exc:
        print(f"mailtop probe: {exc} (set [probe] password_file or ${cfg.probe.password_env})", file=sys.stderr)
        return 2

    from mailtop.model import clean

    def progress(ev) -> None:
        if not args.quiet:  # the "reply" phase's detail is the reply's From header: remote text
            print(f"  [{ev.elapsed:5.1f} s] {ev.phase}: {clean(ev.detail)}", file=sys.stderr, flush=True)

    result = run_probe_sync(settings, password, progress)
    del password
    return print_result(result, args.json, render_text)
