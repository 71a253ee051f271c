"""The mail log from the systemd journal, where Postfix and Dovecot write no log file (Debian 12 and later
without rsyslog): the window before now for checks, and the entries after it for the dashboard.

Both read ``journalctl -o json`` (``mailtop.logs.follow.JournalFollower``: entries become syslog lines
with RFC 3339 stamps) limited to the mail facility (``SYSLOG_FACILITY=2``; Postfix and Dovecot log there
by default), from the system journal or from ``logs.journal_paths`` (journal files or folders:
``--file`` / ``--directory``). The window is read with ``--since=@EPOCH`` and no ``-f``; following goes
on with ``--after-cursor`` from the window's last entry, so nothing is read twice or lost between the
two. journalctl is run by argument list, never through a shell.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FACILITY = "SYSLOG_FACILITY=2"
"""The mail facility: Postfix and Dovecot's default syslog facility."""


class JournalError(OSError):
    """journalctl is missing, failed, or did not finish in time; ``hint`` says what to do."""

    hint = "see: journalctl -o short SYSLOG_FACILITY=2 -n 20"


def _error(text: str, hint: str = "") -> JournalError:
    exc = JournalError(text)
    if hint:
        exc.hint = hint
    return exc


_NO_ACCESS = ("run mailtop as root, or add your user to the 'systemd-journal' (or 'adm') group: "
              "sudo usermod -aG systemd-journal $USER, then log in again")


def _see(argv: list[str]) -> str:
    """The hint for a failing journalctl: the same journal (``--file``/``--directory``), readable."""
    where = [a for a in argv if a.startswith(("--file=", "--directory="))]
    return f"see: journalctl {' '.join(where) + ' ' if where else ''}-o short -n 20 {FACILITY}"


def journal_argv(cfg: Any, *, since: float | None = None, follow: bool = False, after_cursor: str = "") -> list[str]:
    """The ``journalctl`` command for the configured journal (``logs.journal_paths`` or the system's)."""
    argv = ["journalctl", "-o", "json", "--no-pager"]
    for p in getattr(cfg.logs, "journal_paths", ()) or ():
        argv.append(f"--directory={p}" if Path(p).is_dir() else f"--file={p}")
    if after_cursor:
        argv.append(f"--after-cursor={after_cursor}")
    elif since is not None:
        argv.append(f"--since=@{int(since)}")
    elif follow:
        argv += ["-n", "0"]
    if follow:
        argv.append("-f")
    argv.append(FACILITY)
    return argv


class JournalWindow:
    """Read the window once: ``for lines in window: ...``; then ``cursor`` is where following goes on.

    ``timeout``: seconds for the whole read (a journal on a slow disk, a hung journalctl); journalctl
    is then stopped and ``JournalError`` raised."""

    def __init__(self, cfg: Any, since: float, timeout: float) -> None:
        self.argv = journal_argv(cfg, since=since)
        self.paths = [Path(p) for p in getattr(cfg.logs, "journal_paths", ()) or ()]
        self.timeout = timeout
        self.cursor = ""
        self.lines = 0

    def __iter__(self) -> Iterator[list[str]]:
        from mailtop.logs.follow import JournalFollower

        try:
            jf = JournalFollower(argv=self.argv)
        except FileNotFoundError as exc:
            raise _error("journalctl is not installed (the systemd journal cannot be read)",
                         "install systemd's journalctl, or set [logs] files to the mail log file") from exc
        deadline = time.monotonic() + self.timeout
        try:
            while not jf.eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _error(f"journalctl did not finish within {self.timeout:g} s",
                                 f"a large or slow journal; try: {' '.join(self.argv)}")
                lines = jf.poll(timeout=min(left, 0.5))
                self.cursor = jf.cursor or self.cursor
                if lines:
                    self.lines += len(lines)
                    yield lines
            try:
                code: int | str = jf.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = "none, still running after its output ended"
            err = jf.stderr_text()
            if code != 0 or _PERMISSION.search(err):
                raise _error(f"journalctl (exit {code}): {journal_problem(err)}"[:400],
                             _NO_ACCESS if _PERMISSION.search(err) else _see(self.argv))
            if not self.lines and not self.paths_have_journals():
                where = " or ".join(map(str, self.paths or DEFAULT_DIRS))
                raise _error(f"no journal files in {where}",
                             "is systemd-journald running? If Postfix logs to a file, set [logs] files")
        finally:
            jf.close()


    def paths_have_journals(self) -> bool:
        """Whether there is any journal file to read (an empty window of a real journal is fine; a
        host without journald has none, and journalctl then says nothing and exits 0)."""
        for p in self.paths or DEFAULT_DIRS:
            if p.is_file():
                return True
            try:
                if any(p.rglob("*.journal")):
                    return True
            except OSError:
                return True  # cannot look: journalctl's own answer stands
        return False


DEFAULT_DIRS = (Path("/var/log/journal"), Path("/run/log/journal"))
"""Where journald keeps the system journal (persistent, volatile)."""


class JournalSource:
    """The journal as the dashboard's log source, with ``MailLogFollower``'s interface (``poll()`` ->
    events, ``errors()``, ``close()``): ``count_window`` reads the window before now once; ``poll``
    follows what comes after it (``journalctl -f --after-cursor``). A journalctl that ends is started
    again from the last cursor, at most every ``RESTART_EVERY`` seconds; its complaint is the error."""

    RESTART_EVERY = 5.0
    PATH = Path("systemd journal")

    def __init__(self, cfg: Any) -> None:
        from mailtop.logs.parse import LineParser

        self.cfg = cfg
        self.parser = LineParser()
        self.cursor = ""
        self.since: float | None = None
        """Where following starts when no entry was read yet (an empty window): the window's start."""
        self._jf: Any = None
        self._started = 0.0
        self._error: OSError | None = None

    def count_window(self, add: Any, since: float, timeout: float) -> None:
        """Feed ``add`` (``LogStats.add_all``) the events since ``since``; following starts after them."""
        from mailtop.logs.parse import LineParser
        from mailtop.logs.window import events_since

        window = JournalWindow(self.cfg, since, timeout)
        self.since = since
        try:
            add(events_since(LineParser(reference_time=time.time()), window, since))
        except OSError as exc:
            self._error = exc  # shown until following reads something
            raise
        finally:
            self.cursor = window.cursor  # what was counted is not read again

    def poll(self) -> list[Any]:
        from mailtop.logs.follow import JournalFollower

        jf = self._jf
        if jf is not None and jf.eof:
            try:
                code: int | str = jf.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = "none, still running after its output ended"  # close() below ends it
            err = jf.stderr_text()
            self._error = _error(f"journalctl ended (exit {code}): {journal_problem(err) or 'no message'}"[:400],
                                 _NO_ACCESS if _PERMISSION.search(err) else _see(jf.argv))
            jf.close()
            self._jf = jf = None
        if jf is None:
            if time.monotonic() - self._started < self.RESTART_EVERY and self._started:
                return []
            self._started = time.monotonic()
            try:
                # after the last entry read; with none read yet (an empty window), from the window's
                # start, not "-n 0": entries written since the window was read are not lost
                jf = self._jf = JournalFollower(argv=journal_argv(self.cfg, follow=True, after_cursor=self.cursor,
                                                                  since=self.since))
            except OSError as exc:
                self._error = _error(f"journalctl cannot run: {exc.strerror or exc}",
                                     "install systemd's journalctl, or set [logs] files to the mail log file")
                return []
        lines = jf.poll(timeout=0)
        if jf.cursor:
            self.cursor = jf.cursor
        if lines:
            self._error = None
        parse = self.parser.parse
        return [parse(line) for line in lines]

    def errors(self) -> list[tuple[Path, OSError]]:
        return [(self.PATH, self._error)] if self._error is not None else []

    def close(self) -> None:
        if self._jf is not None:
            self._jf.close()
            self._jf = None


_PERMISSION = re.compile(r"insufficient permissions|permission denied|not seeing messages from other users", re.I)


def journal_problem(stderr: str) -> str:
    """What journalctl's complaint means for the user (e.g. not allowed to read the system journal)."""
    if _PERMISSION.search(stderr):
        return "not allowed to read the system's journal"
    return stderr.strip()
