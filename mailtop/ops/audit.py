"""The audit log: one JSON line per destructive action (queue actions, alias saves).

Each line: time (ISO 8601, UTC), user, action, argv (the exact command, as a list), the IDs or
names it acted on, the result ("ok", "failed", "partial", "dry-run") and a detail message. Lines are
appended with O_APPEND in a single write, so concurrent writers never interleave inside a line.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class AuditRecord:
    time: str
    user: str
    action: str
    argv: tuple[str, ...]
    targets: tuple[str, ...]
    result: str
    detail: str = ""


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.geteuid())


def append_audit(
    path: Path,
    action: str,
    argv: Sequence[str],
    targets: Iterable[str] = (),
    result: str = "ok",
    detail: str = "",
) -> AuditRecord:
    """Append one record to the audit log at ``path`` (created 0600 with its folder) and return it.

    Raises ``OSError`` when the log cannot be written: callers must refuse the action (or report the
    failure) rather than act without a trace.
    """
    rec = AuditRecord(
        time=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        user=_user(),
        action=action,
        argv=tuple(argv),
        targets=tuple(targets),
        result=result,
        detail=detail,
    )
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {
            "time": rec.time,
            "user": rec.user,
            "action": rec.action,
            "argv": list(rec.argv),
            "targets": list(rec.targets),
            "result": rec.result,
            "detail": rec.detail,
        },
        ensure_ascii=False,
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)
    return rec


def read_audit(path: Path) -> list[AuditRecord]:
    """Every record in the log, oldest first; lines that are not valid records are skipped."""
    out: list[AuditRecord] = []
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            d = json.loads(line)
            out.append(
                AuditRecord(
                    time=d["time"], user=d["user"], action=d["action"], argv=tuple(d["argv"]),
                    targets=tuple(d["targets"]), result=d["result"], detail=d.get("detail", ""),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return out
