"""Ask before a destructive action: one rule for every command that changes something (``mailtop queue``
actions, ``mailtop aliases add|set|remove``).

- ``--yes``: go ahead without asking;
- stdin is a terminal: show what will change (the diff, the exact commands) and ask ``proceed? [y/N]``;
  only ``y`` or ``yes`` and Enter goes ahead; Enter alone, anything else, end of input (Ctrl-D) and
  Ctrl-C are "no";
- otherwise (a script, a pipe, cron): refuse and say so, showing what would have changed.

``--dry-run`` is the caller's: it shows the change and never gets here.
"""

from __future__ import annotations

import sys
from typing import TextIO

PROMPT = "proceed? [y/N] "


def confirm(
    change: str,
    *,
    yes: bool,
    prog: str,
    can_ask: bool | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """True to go ahead. ``change`` says what will happen (a diff, the command lines); it is shown with the
    question on ``out`` (default stdout), or with the refusal on ``err`` (default stderr). ``can_ask``
    defaults to "stdin is a terminal"; a caller that reads its input from stdin passes False."""
    stdin = sys.stdin if stdin is None else stdin
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if yes:
        return True
    if can_ask is None:
        isatty = getattr(stdin, "isatty", None)
        can_ask = bool(isatty and isatty())
    text = change if change.endswith("\n") or not change else change + "\n"
    if not can_ask:
        err.write(text)
        print(f"{prog}: refusing without --yes (not a terminal); nothing done", file=err)
        return False
    out.write(text + PROMPT)
    out.flush()
    try:
        answer = stdin.readline()  # "" at end of input (Ctrl-D): no
    except KeyboardInterrupt:
        answer = ""
    if not answer.endswith("\n"):  # Ctrl-D / Ctrl-C: no (even after a "y" not confirmed with Enter)
        out.write("\n")  # the cursor was left after the prompt
    elif answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing done", file=err)
    return False
