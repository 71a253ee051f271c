"""``mailtop trace QUERY [FILE ...]``: every log line of the messages matching a queue ID, a
message-id (``<id@host>``), an address or ``@domain``. Files as for ``mailtop report``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailtop.config import Config
    from mailtop.logs.trace import TraceResult


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", help="queue ID, <message-id>, address, or @domain")
    parser.add_argument("files", nargs="*", metavar="FILE", help="log files (.gz too); '-' is stdin")
    parser.add_argument("--json", action="store_true", help="one JSON object: messages and lines")


def run(args: argparse.Namespace, cfg: Config) -> int:
    from mailtop.logs.command import input_paths, safe
    from mailtop.logs.follow import read_lines
    from mailtop.logs.parse import LineParser
    from mailtop.logs.stats import unreadable_finding
    from mailtop.logs.trace import trace

    paths = input_paths(args, cfg)
    if not paths:
        print("mailtop trace: no log file given and none configured ([logs] files)", file=sys.stderr)
        return 2
    errors = []

    def lines() -> Iterator[str]:
        for path in paths:
            try:
                for batch in read_lines(path):
                    yield from batch
            except OSError as exc:
                errors.append(unreadable_finding(str(path or "stdin"), exc))

    result = trace(args.query, lines(), LineParser())
    for f in errors:
        print(f"mailtop trace: {f.summary}\n  hint: {f.hint}", file=sys.stderr)
    try:
        _print(args, result, safe)
    except BrokenPipeError:
        # the reader (head, less) went away: not an error of ours. Later writes (the interpreter's
        # last flush) go to /dev/null instead of ending in a second BrokenPipeError.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    if errors:
        return 2
    return 0 if result.lines else 1


def _print(args: argparse.Namespace, result: TraceResult, safe: Callable[[str], str]) -> None:
    from dataclasses import asdict

    if args.json:
        json.dump({"query": result.query, "query_kind": result.query_kind, "queue_ids": result.queue_ids,
                   "messages": [asdict(m) for m in result.messages], "lines": result.lines},
                  sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        if not result.lines:
            print(f"no message matches {safe(args.query)!s} ({result.query_kind}) in {result.lines_read} lines")
        for m in result.messages:
            status = ", ".join(f"{safe(r)}: {m.final_status(r)}" for r in m.recipients) or "no delivery yet"
            state = "removed" if m.removed else "still queued (or not removed in this log)"
            print(f"# {m.queue_id}  from=<{safe(m.sender or '')}> size={m.size} {state}; {status}")
        for line in result.lines:
            print(safe(line))
    sys.stdout.flush()
