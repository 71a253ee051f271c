"""The registry of health checks and the runner shared by ``mailtop --check`` and the dashboard.

A :class:`Check` has a stable id (every finding it yields has an id equal to or below it, e.g. check
``tls.imaps`` yields ``tls.imaps``; check ``dns`` yields ``dns.mx.lab.test``), its own timeout, the
checks it depends on, and how often the dashboard should run it. :func:`run_checks` runs the selected
checks concurrently on one event loop and returns a :class:`CheckRun` whose results are in registry order,
whatever order they finished in.

Rules the runner enforces, so a check author cannot get them wrong:

- a check that raises becomes one UNKNOWN finding carrying the error; the others still run;
- a check that overruns its timeout becomes one UNKNOWN finding ("no result within N s");
- a *prerequisite* that is down (its worst finding is CRITICAL, or it timed out or raised) turns each
  dependant into one UNKNOWN finding "skipped: <prerequisite> is down" instead of letting every dependant
  wait out its own timeout against a dead service;
- a finding whose id is not below its check's id is renamed ``<check id>.<finding id>``, so ids stay
  unique and ``--only``/``--skip`` can select them.

Selection (``--only``/``--skip``): an id selects itself and everything below it (``tls`` selects
``tls.smtp`` and ``tls.imaps``; ``tls.smtp`` does not select ``tls.smtps``). Prerequisites of a selected
check run even when not selected, for gating, but their findings are not reported. A skipped prerequisite
does not run and gates nothing.

Blocking work (file reads, programs run with a timeout) runs in daemon threads via :func:`in_thread`, so
a hung read can time out without keeping the process alive at exit.

Nothing here imports Textual or any heavy module at import time; collectors are imported inside checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import heapq
import importlib
import os
import socket
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from mailtop.config import Config, parse_hostport
from mailtop.model import Finding, Metric, Status, worst

T = TypeVar("T")

CheckFunc = Callable[[Config], Awaitable[Sequence[Finding]]]


@dataclass(frozen=True, slots=True)
class Check:
    """One entry of the registry."""

    id: str
    """Stable id; every finding of this check has this id or one below it."""
    title: str
    """Short human name, used in "skipped: <title> is down"."""
    func: CheckFunc
    timeout: float
    """Seconds before the runner gives up on this check (a backstop: checks use shorter inner timeouts)."""
    depends: tuple[str, ...] = ()
    """Ids of prerequisite checks; when one is down this check is skipped."""
    refresh: float = 60.0
    """Seconds between runs in the dashboard."""
    opt_in: bool = False
    """Runs only when asked for by name (``--only probe``): for checks that send real mail."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check produced in one run."""

    check: str
    findings: tuple[Finding, ...]
    state: str
    """``ran``, ``timeout``, ``error`` or ``skipped``."""
    started: float
    """``time.perf_counter()`` when it started (skipped: when it was skipped)."""
    elapsed: float
    reported: bool = True
    """False for a prerequisite that ran only to gate the selected checks."""

    @property
    def status(self) -> Status:
        return worst([f.status for f in self.findings])

    @property
    def down(self) -> bool:
        """As a prerequisite: is what it checks down?"""
        return self.state in ("timeout", "error", "skipped") or self.status is Status.CRITICAL


@dataclass(frozen=True, slots=True)
class CheckRun:
    """One run of the selected checks."""

    host: str
    time: float
    """Wall-clock start (``time.time()``)."""
    started: float
    """``time.perf_counter()`` at the start of the run."""
    wall: float
    """Seconds from start to the last result."""
    results: tuple[CheckResult, ...]
    notes: tuple[Finding, ...] = ()
    """Findings about the run itself (an ``--only`` id that matches nothing)."""

    @property
    def findings(self) -> list[Finding]:
        """Reported findings, in registry order."""
        out = [f for r in self.results if r.reported for f in r.findings]
        return out + list(self.notes)

    @property
    def status(self) -> Status:
        return worst([f.status for f in self.findings]) if self.findings else Status.UNKNOWN

    def slowest(self) -> CheckResult | None:
        ran = [r for r in self.results if r.state != "skipped"]
        return max(ran, key=lambda r: r.elapsed, default=None)


# --------------------------------------------------------------------------- helpers for checks


async def in_thread(func: Callable[..., T], *args: Any) -> T:
    """Run blocking ``func(*args)`` in a daemon thread and await it.

    Unlike ``asyncio.to_thread`` the thread never keeps the process alive: when the check times out, the
    runner stops waiting and the process can exit even if the read is stuck (a dead NFS mount).
    """
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def _set(value: Any, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)

    def _target() -> None:
        try:
            value = func(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting check, which reports it
            _safe_call(loop, _set, None, exc)
        else:
            _safe_call(loop, _set, value, None)

    threading.Thread(target=_target, name=f"mailtop-check-{getattr(func, '__name__', 'work')}", daemon=True).start()
    return await fut


def _safe_call(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        # the loop has closed: the check timed out long ago and nobody waits for this result
        return


def import_optional(module: str) -> Any | None:
    """Import ``module``; None when it (not one of its own imports) does not exist."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            return None
        raise


# --------------------------------------------------------------------------- prerequisites


async def _dns_resolver(cfg: Config) -> list[Finding]:
    """The configured nameservers answer at all (any response code counts; a timeout does not)."""
    import dns.asyncquery
    import dns.exception
    import dns.message
    import dns.rdatatype

    servers: list[tuple[str, int]] = []
    if cfg.dns.nameservers:
        servers = [parse_hostport(s, 53) for s in cfg.dns.nameservers]
        source = "dns.nameservers"
    else:
        import dns.resolver

        try:
            sys_resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration as exc:
            return [
                Finding(
                    "dns.resolver",
                    Status.CRITICAL,
                    "no nameserver configured",
                    details=str(exc),
                    hint="set dns.nameservers, or fix /etc/resolv.conf",
                )
            ]
        servers = [(str(ns), int(sys_resolver.port)) for ns in sys_resolver.nameservers]
        source = "the system resolver"
    qname = (cfg.dns.domains[0] if cfg.dns.domains else ".").rstrip(".") + "."
    timeout = cfg.dns.timeout

    async def ask(host: str, port: int) -> tuple[str, float, str]:
        t0 = time.perf_counter()
        query = dns.message.make_query(qname, dns.rdatatype.SOA)
        try:
            response = await dns.asyncquery.udp(query, host, port=port, timeout=timeout)
        except dns.exception.Timeout:
            return f"{host}:{port}", -1.0, f"no answer within {timeout:g} s"
        except OSError as exc:
            return f"{host}:{port}", -1.0, f"error: {exc.strerror or exc}"
        rcode = dns.rcode.to_text(response.rcode())
        return f"{host}:{port}", time.perf_counter() - t0, rcode

    import dns.rcode

    answers = await asyncio.gather(*(ask(h, p) for h, p in servers))
    up = [a for a in answers if a[1] >= 0]
    lines = [f"{name}: {f'{rtt * 1000:.1f} ms, {what}' if rtt >= 0 else what}" for name, rtt, what in answers]
    details = f"SOA {qname} asked of each nameserver from {source}\n" + "\n".join(lines)
    if not up:
        return [
            Finding(
                "dns.resolver",
                Status.CRITICAL,
                f"no DNS answer from {', '.join(a[0] for a in answers) or 'any nameserver'}",
                details=details,
                hint="start or fix the resolver (a caching resolver on each mail server, e.g. unbound), "
                "or point dns.nameservers at one that answers",
            )
        ]
    best = min(a[1] for a in up)
    status = Status.OK if len(up) == len(answers) else Status.WARNING
    summary = (
        f"{len(up)}/{len(answers)} nameservers answer ({best * 1000:.0f} ms)"
        if status is Status.WARNING
        else f"nameserver answers: {', '.join(a[0] for a in up)} ({best * 1000:.0f} ms)"
    )
    return [
        Finding(
            "dns.resolver",
            status,
            summary,
            details=details,
            hint="" if status is Status.OK else "a nameserver in dns.nameservers does not answer",
            metrics=(),
        )
    ]


# --------------------------------------------------------------------------- checks wired to other modules


def _not_built(check_id: str, what: str, module: str) -> list[Finding]:
    return [
        Finding(
            id=check_id,
            status=Status.UNKNOWN,
            summary=f"{what}: not built",
            details=f"the module {module} is missing from this installation",
            hint=f"install a complete mailtop, or skip this check with --skip {check_id}",
        )
    ]


def _wired(check_id: str, what: str, module: str, function: str) -> CheckFunc:
    """The check ``await module.function(cfg)``, imported when it runs; UNKNOWN "not built" without the module."""

    async def run(cfg: Config) -> Sequence[Finding]:
        mod = import_optional(module)
        if mod is None:
            return _not_built(check_id, what, module)
        return await getattr(mod, function)(cfg)

    run.__name__ = f"_{check_id}"
    return run


_dns = _wired("dns", "DNS and MX checks", "mailtop.health.dns", "dns_findings")
_relay = _wired("relay", "open relay checks", "mailtop.health.relay", "relay_findings")
_access = _wired("access", "POP/IMAP login tests", "mailtop.health.access", "access_findings")
_probe = _wired("probe", "autoresponder probes", "mailtop.health.probe", "probe_findings")


async def _queue(cfg: Config) -> Sequence[Finding]:
    mod = import_optional("mailtop.mta.postfix")
    if mod is None:
        return _not_built("queue", "queue check", "mailtop.mta (summarize)")
    queue = mod.PostfixQueue.from_config(cfg)
    # the listing is stopped by its own timeout before the check's, so the finding says what happened
    queue.timeout = min(queue.timeout, cfg.general.timeout + 3)
    summary = await in_thread(lambda: queue.summarize(shapes=False, reasons=True))
    return queue_findings(summary, cfg)


def _age_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def queue_findings(summary: Any, cfg: Config) -> list[Finding]:
    """Per queue: count (``queue_count_warn/crit``) and age of the oldest message (``queue_oldest_warn/crit``;
    the hold queue is an admin's deliberate side track: reported, never judged); per destination domain:
    the age of its oldest message outside the hold queue, for the domains over the age thresholds."""
    th = cfg.thresholds
    if summary.error:
        return [Finding("queue", Status.UNKNOWN, f"cannot read the queue: {summary.error}"[:300],
                        details=" ".join(summary.argv), hint="see: mailtop queue")]

    def judge(count: int, age: float | None) -> Status:
        s = Status.OK
        if count >= th.queue_count_crit or (age is not None and age >= th.queue_oldest_crit):
            return Status.CRITICAL
        if count >= th.queue_count_warn or (age is not None and age >= th.queue_oldest_warn):
            s = Status.WARNING
        return s

    total_age = summary.oldest_age()
    out = [Finding(
        "queue.total", Status.OK,
        f"{summary.total_messages} messages queued" + (f", oldest {_age_text(total_age)}" if total_age else ""),
        details=f"read with {summary.source}" + (f"; {summary.skipped} malformed records skipped" if summary.skipped
                                                 else ""),
        metrics=(Metric("queue.total", summary.total_messages, "", min=0),),
        data={"messages": summary.total_messages, "oldest_age": total_age},
    )]
    reasons = list(summary.reasons)
    for q in summary.queues:
        age = summary.oldest_age(q.name)
        status = Status.OK if q.name == "hold" else judge(q.messages, age)
        text = f"{q.name}: {q.messages} messages" + (f", oldest {_age_text(age)} ({q.oldest_id})" if q.messages else "")
        details = f"{q.recipients} recipients, {q.bytes} bytes"
        if q.name == "deferred" and reasons:
            details += "\ntop reasons: " + "; ".join(f"{r.recipients} x {r.reason}" for r in reasons[:3])
        hint = ""
        if status is not Status.OK:
            hint = ("see why: mailtop queue --reasons; retry once the cause is fixed: postqueue -f"
                    if q.name == "deferred" else "is the queue manager running and keeping up? see: mailtop queue")
        out.append(Finding(
            f"queue.{q.name}", status, text, details=details, hint=hint,
            metrics=(Metric(f"queue.{q.name}", q.messages, "", th.queue_count_warn, th.queue_count_crit, 0),
                     Metric(f"queue.{q.name}.oldest", round(age or 0.0, 1), "s", th.queue_oldest_warn,
                            th.queue_oldest_crit, 0)),
            data={"messages": q.messages, "recipients": q.recipients, "bytes": q.bytes, "oldest_age": age,
                  "oldest_id": q.oldest_id},
        ))
    slow = []
    for d in summary.domains:
        recipients, oldest = d.waiting(leave_out=("hold",))  # held mail waits because an admin said so
        if oldest is None:
            continue
        age = max(0.0, summary.time - oldest)
        if age >= th.queue_oldest_warn:
            slow.append((d, recipients, age))
    for d, recipients, age in sorted(slow, key=lambda x: -x[2])[:10]:
        status = Status.CRITICAL if age >= th.queue_oldest_crit else Status.WARNING
        why = next((r.example for r in reasons if any(rd.domain == d.domain for rd in r.domains)), "")
        out.append(Finding(
            f"queue.domain.{d.domain or 'unknown'}", status,
            f"mail for {d.domain} waits: {recipients} recipients, oldest {_age_text(age)}",
            details=(f"reason: {why}\n" if why else "") + ", ".join(f"{n} {c}" for n, c in d.queues),
            hint="fix the destination (DNS, routing, the remote server) or tell the senders",
            data={"domain": d.domain, "recipients": recipients, "oldest_age": age},
        ))
    if len(slow) > 10:
        out.append(Finding("queue.domain.more", Status.WARNING, f"{len(slow) - 10} more destinations over "
                           f"{_age_text(th.queue_oldest_warn)}", hint="see: mailtop queue"))
    return out


async def _log(cfg: Config) -> Sequence[Finding]:
    stats_mod = import_optional("mailtop.logs.stats")
    parse_mod = import_optional("mailtop.logs.parse")
    if stats_mod is None or parse_mod is None:
        return _not_built("logs", "mail log check", "mailtop.logs (rates over a window)")
    return await in_thread(log_window_findings, stats_mod, parse_mod, cfg, time.time())


TAIL_CHUNK = 256 * 1024
TAIL_MAX = 64 * 1024 * 1024


def log_window_findings(stats_mod: Any, parse_mod: Any, cfg: Config, now: float) -> list[Finding]:
    """Defer and bounce rates and auth-failure bursts over ``thresholds.log_window`` seconds of the
    configured log files (``mailtop.logs.stats.log_findings``), reading only the files' tails."""
    from mailtop.logs.window import events_since, line_end, window_lines, window_start

    files = list(cfg.logs.files)
    window = float(cfg.thresholds.log_window)
    since = now - window
    if not files:
        if cfg.logs.journal:
            return _journal_window_findings(stats_mod, parse_mod, cfg, now, since)
        return _no_log_files(cfg)
    out: list[Finding] = []
    short: list[str] = []  # files whose lines do not reach back to the window's start
    with contextlib.ExitStack() as stack:
        streams = []
        for path in files:
            parser = parse_mod.LineParser(reference_time=now)
            try:
                fh = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the stack
                end = line_end(fh, os.fstat(fh.fileno()).st_size)
                start = window_start(fh, since, lambda line, p=parser: p.parse(line).ts, end, TAIL_MAX, TAIL_CHUNK)
                first = _first_ts(fh, start, end, parse_mod.LineParser(reference_time=now))
            except OSError as exc:
                out.append(log_file_finding(stats_mod, path, exc))
                continue
            if first > since:
                why = f"read back {TAIL_MAX / 2**20:g} MiB at most" if start > 0 else "the file starts there (rotated?)"
                short.append(f"{path} covers only the last {max(0.0, now - first):.0f} s ({why})")
            streams.append(events_since(parser, window_lines(fh, start, end, TAIL_CHUNK), since - 60))
        if not streams:
            return out
        stats = stats_mod.LogStats(clock=lambda: now, window_max=max(window, 60.0),
                                   syslog_names=getattr(cfg.logs, "syslog_names", ()))
        # Events are parsed as they are counted, never all held at once (at 2,000 lines/s the window is
        # 600,000 lines; a list of their events took ~1 GiB); the lines are read a chunk at a time. Each
        # file is read in its own order (as the Log panel follows it); several files are merged by time.
        stats.add_all(streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda ev: ev.ts))
    found = list(stats_mod.log_findings(stats, cfg.thresholds, now=now))
    if short:  # the counts are of a shorter time than the summaries' "last N min": say so
        note = "; ".join(short)
        found = [dataclasses.replace(f, details=f"{f.details}\n{note}" if f.details else note) for f in found]
    return found + out


def _first_ts(fh: Any, start: int, end: int, parser: Any) -> float:
    """The time of the first stamped line at or after ``start`` (among the next few; 0 when none)."""
    fh.seek(start)
    for _ in range(20):
        if fh.tell() >= end:
            break
        line = fh.readline(8192)
        if not line:
            break
        ts = parser.parse(line.decode("utf-8", "replace").rstrip("\n")).ts
        if ts:
            return float(ts)
    return 0.0


def _no_log_files(cfg: Config) -> list[Finding]:
    return [Finding("logs", Status.UNKNOWN, "no mail log file configured and the journal is not read",
                    hint="set [logs] files to the Postfix and Dovecot log files, or [logs] journal = true")]


def _journal_window_findings(stats_mod: Any, parse_mod: Any, cfg: Config, now: float, since: float
                             ) -> list[Finding]:
    """The ``logs`` check over the systemd journal's mail facility (no log file on this host)."""
    from mailtop.logs.journal import JournalSource, JournalWindow
    from mailtop.logs.window import events_since

    stats = stats_mod.LogStats(clock=lambda: now, window_max=max(now - since, 60.0),
                               syslog_names=getattr(cfg.logs, "syslog_names", ()))
    # journalctl's JSON of a busy window takes seconds (~1 s per 100,000 entries here): the read gets
    # the check's budget (general.timeout + 5) but 2 s, not general.timeout (5 s: a host at 2,000
    # lines/s was UNKNOWN on every run); from the window's start (the minute before it is never counted)
    try:
        stats.add_all(events_since(parse_mod.LineParser(reference_time=now),
                                   JournalWindow(cfg, since, float(cfg.general.timeout) + 3), since))
    except OSError as exc:
        return [log_file_finding(stats_mod, JournalSource.PATH, exc)]
    return list(stats_mod.log_findings(stats, cfg.thresholds, now=now))


def log_file_finding(stats_mod: Any, path: Any, exc: OSError) -> Finding:
    """The finding for a configured mail log that is missing or cannot be read."""
    hint = getattr(exc, "hint", None)  # the journal's errors say what to do themselves
    if hint is not None:
        return Finding(f"logs.readable.{_slug(str(path))}", Status.UNKNOWN, f"cannot read the {path}: {exc}",
                       hint=hint)
    if isinstance(exc, FileNotFoundError):
        return Finding(f"logs.readable.{_slug(str(path))}", Status.UNKNOWN, f"the mail log {path} does not exist",
                       details=str(exc), hint="check [logs] files")
    f = stats_mod.unreadable_finding(str(path), exc)
    return Finding(f"logs.readable.{_slug(str(path))}", f.status, f.summary, f.details, f.hint)


def live_log_findings(stats_mod: Any, stats: Any, errors: Iterable[tuple[Any, OSError]], cfg: Config,
                      now: float) -> list[Finding]:
    """The ``logs`` check from statistics a front end already keeps while following the logs (the
    dashboard's log monitor: its per-minute buckets cover ``thresholds.log_window``), instead of
    reading the window again: the same findings as :func:`log_window_findings`."""
    if not cfg.logs.files and not cfg.logs.journal:
        return _no_log_files(cfg)
    out = [log_file_finding(stats_mod, path, exc) for path, exc in errors]
    return list(stats_mod.log_findings(stats, cfg.thresholds, now=now)) + out


async def run_live_logs(cfg: Config, monitor: Any) -> CheckRun:
    """The ``logs`` check of a front end that follows the logs anyway (the dashboard): its findings
    come from ``monitor`` (``mailtop.logs.monitor.LogMonitor``: statistics over the window, the files
    that cannot be read) instead of a second reading and parsing of the window on every run (at 2,000
    lines/s, 600,000 lines and ~3 s of CPU each time; the dashboard's checks worker grew to ~1 GiB)."""
    stats_mod = import_optional("mailtop.logs.stats")

    def findings(c: Config) -> list[Finding]:
        wait = float(c.general.timeout)  # the check's own timeout is a few seconds longer
        if not monitor.ready.wait(wait):
            return [Finding("logs", Status.UNKNOWN, "the mail log has not been read yet",
                            details=f"the log monitor's first read took more than {wait:g} s",
                            hint="a busy log's window is counted first; the next run will have it")]
        return live_log_findings(stats_mod, monitor.stats, monitor.file_errors(), c, time.time())

    return await run_with(cfg, "logs", findings)


async def run_live_queue(cfg: Config, latest: Callable[[float], tuple[Any, str] | None]) -> CheckRun:
    """The ``queue`` check of a front end that reads the queue anyway (the dashboard's queue worker):
    ``latest(wait)`` returns (the last listing's ``QueueSummary`` or None, the error of the last read
    or ""), or None when no read finished within ``wait`` seconds. A second ``postqueue -j`` of a
    100,000-message queue costs Postfix's showq ~2 s of CPU per run."""

    def findings(c: Config) -> list[Finding]:
        wait = float(c.general.timeout)
        got = latest(wait)
        if got is None:
            return [Finding("queue", Status.UNKNOWN, "the queue has not been read yet",
                            details=f"the queue listing took more than {wait:g} s",
                            hint="a large queue takes a few seconds to list; the next run will have it")]
        summary, error = got
        if error or summary is None:
            return [Finding("queue", Status.UNKNOWN, f"cannot read the queue: {error}"[:300],
                            hint="see: mailtop queue")]
        return queue_findings(summary, c)

    return await run_with(cfg, "queue", findings)


async def run_with(cfg: Config, check_id: str, findings: Callable[[Config], Sequence[Finding]]) -> CheckRun:
    """Run the registry's check ``check_id`` (its title, timeout, error handling) with its findings
    made by ``findings(cfg)`` (blocking: run in a thread) instead of its own collector."""

    async def live(c: Config) -> Sequence[Finding]:
        return await in_thread(findings, c)

    check = next(c for c in registry(cfg) if c.id == check_id)
    return await run_checks(cfg, ids=[check.id], checks=[dataclasses.replace(check, func=live, depends=())])


def tail_lines(path: Any, since: float, parser: Any, max_bytes: int = TAIL_MAX, chunk: int = TAIL_CHUNK) -> list[str]:
    """The complete lines at the end of ``path`` that cover at least the time since ``since``
    (``mailtop.logs.window``; a list, for tests and small windows)."""
    from mailtop.logs.window import line_end, window_lines, window_start

    with open(path, "rb") as fh:
        end = line_end(fh, os.fstat(fh.fileno()).st_size, chunk)
        start = window_start(fh, since, lambda line: parser.parse(line).ts, end, max_bytes, chunk)
        return [line for batch in window_lines(fh, start, end, chunk) for line in batch]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text).strip("-")


async def _aliases(cfg: Config) -> Sequence[Finding]:
    core = import_optional("mailtop.ops.aliases")
    if core is None:
        return _not_built("aliases", "aliases check", "mailtop.ops.aliases")
    return await in_thread(aliases_findings, core, cfg)


_UNDELIVERABLE = {"target.nowhere", "target.unknown-user", "loop", "target.command-missing"}


def _alias_closure(af: Any, name: str) -> set[str]:
    """``name`` and every local alias it expands to (the names whose problems make it undeliverable)."""
    seen: set[str] = set()
    todo = [name.lower()]
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        entry = af.get(key)
        if entry is None:
            continue
        todo.extend(t.value.lower() for t in entry.targets if t.kind == "local")
    return seen


def aliases_findings(core: Any, cfg: Config) -> list[Finding]:
    """postmaster and abuse present and deliverable, loops, the rest of the validator, a stale database.

    Uses ``mailtop.ops.aliases``: ``directory_for``, ``AliasFile.load(...).problems``, ``plan_rebuild``,
    ``database_is_stale``. Blocking (postconf/postmap runs): called in a thread.
    """
    out: list[Finding] = []
    directory = core.directory_for(cfg)
    files = [("aliases", "aliases", cfg.aliases.path)]
    if cfg.aliases.virtual_path is not None:
        files.append(("aliases.virtual", "virtual", cfg.aliases.virtual_path))
    for prefix, dialect, path in files:
        try:
            af = core.AliasFile.load(path, dialect=dialect, directory=directory)
        except OSError as exc:
            out.append(Finding(f"{prefix}.file", Status.UNKNOWN, f"cannot read {path}: {exc.strerror or exc}",
                               hint="check [aliases] path / virtual_path, and run as a user who may read it"))
            continue
        problems = list(af.problems)
        used: set[int] = set()

        def take(pred: Callable[[Any], bool], _problems: list[Any] = problems, _used: set[int] = used) -> list[Any]:
            hits = [p for p in _problems if pred(p)]
            _used.update(id(p) for p in hits)
            return hits

        # the roles: present, and every alias they expand to delivers somewhere
        for role, bad in (("postmaster", Status.CRITICAL), ("abuse", Status.WARNING)):
            if dialect == "virtual":
                bad = Status.WARNING
            missing = take(lambda p, r=role: p.code == f"role.{r}" and p.severity != "info")
            take(lambda p, r=role: p.code == f"role.{r}")
            closure = _alias_closure(af, role) if dialect == "aliases" else set()
            broken = take(lambda p, c=closure: p.code in _UNDELIVERABLE and p.name.lower() in c)
            fid = f"{prefix}.{role}"
            if missing:
                out.append(Finding(fid, bad, "; ".join(p.message for p in missing)[:300],
                                   details=f"{path}", hint=missing[0].hint or f"add '{role}: root' or a person"))
            elif broken:
                out.append(Finding(fid, bad, f"{role} is not deliverable: {broken[0].message}"[:300],
                                   details="\n".join(f"line {p.line}: {p.message}" for p in broken),
                                   hint=broken[0].hint or f"point {role} at a mailbox someone reads"))
            elif dialect == "aliases":
                entry = af.get(role)
                where = ", ".join(t.text for t in entry.targets) if entry else "a local user"
                out.append(Finding(fid, Status.OK, f"{role} delivers to {where}", details=str(path)))
        loops = take(lambda p: p.code == "loop")
        out.append(Finding(
            f"{prefix}.loops", Status.CRITICAL if loops else Status.OK,
            loops[0].message if len(loops) == 1 else f"{len(loops)} alias loops" if loops else "no alias loops",
            details="\n".join(f"line {p.line}: {p.message}" for p in loops),
            hint=loops[0].hint if loops else "",
        ))
        rest = [p for p in problems if id(p) not in used and p.severity in ("error", "warning")]
        errors = [p for p in rest if p.severity == "error"]
        status = Status.WARNING if rest else Status.OK
        summary = (f"{len(af.entries)} entries, {len(errors)} errors, {len(rest) - len(errors)} warnings"
                   if rest else f"{len(af.entries)} entries, no problems")
        out.append(Finding(f"{prefix}.file", status, f"{path}: {summary}",
                           details="\n".join(str(p) for p in rest[:20]) + (f"\n... {len(rest) - 20} more"
                                                                           if len(rest) > 20 else ""),
                           hint="see: mailtop aliases check" + (" --virtual" if dialect == "virtual" else ""),
                           data={"entries": len(af.entries), "errors": len(errors), "warnings": len(rest) - len(errors)}))
        plan = core.plan_rebuild(path, dialect, cfg.postfix.config_dir, cfg.postfix.bin_dir, cfg.aliases.rebuild)
        stale = core.database_is_stale(path, plan)
        fid = f"{prefix}.database"
        if not plan.used:
            out.append(Finding(fid, Status.WARNING, f"Postfix does not read {path}", details=plan.reason,
                               hint="check [postfix] config_dir and [aliases] path"))
        elif stale:
            cmd = " ".join(plan.argv or ())
            out.append(Finding(fid, Status.WARNING, f"the database of {plan.table} is older than its source",
                               details="the last edit was not rebuilt: Postfix still uses the old version",
                               hint=f"run: {cmd}" if cmd else plan.reason))
        elif stale is None:
            out.append(Finding(fid, Status.OK, f"{plan.table or path}: no database to rebuild", details=plan.reason))
        else:
            out.append(Finding(fid, Status.OK, f"{plan.table}: database is newer than its source"))
    return out


async def _postfix(cfg: Config) -> Sequence[Finding]:
    from mailtop.health import system

    return await system.postfix_findings(cfg)


async def _dovecot(cfg: Config) -> Sequence[Finding]:
    from mailtop.health import system

    return await system.dovecot_findings(cfg)


def _port_check(service: str) -> CheckFunc:
    async def run(cfg: Config) -> Sequence[Finding]:
        from mailtop.health import system

        return await system.port_findings(cfg, service)

    run.__name__ = f"port_{service}"
    return run


def _tls_check(service: str) -> CheckFunc:
    async def run(cfg: Config) -> Sequence[Finding]:
        from mailtop.health import tls

        return await tls.tls_findings(cfg, service)

    run.__name__ = f"tls_{service}"
    return run


async def _quota(cfg: Config) -> Sequence[Finding]:
    from mailtop.health import quota

    return await quota.quota_findings(cfg)


async def _storage(cfg: Config) -> Sequence[Finding]:
    from mailtop.health import quota

    return await quota.storage_findings(cfg)


# --------------------------------------------------------------------------- the registry


# service -> (config section, port attribute, owning daemon check)
SERVICES: dict[str, tuple[str, str, str]] = {
    "smtp": ("smtp", "port", "system.postfix"),
    "submission": ("smtp", "submission_port", "system.postfix"),
    "smtps": ("smtp", "smtps_port", "system.postfix"),
    "imap": ("imap", "port", "system.dovecot"),
    "imaps": ("imap", "tls_port", "system.dovecot"),
    "pop3": ("pop3", "port", "system.dovecot"),
    "pop3s": ("pop3", "tls_port", "system.dovecot"),
}
TLS_SERVICES = ("smtp", "submission", "smtps", "imaps", "pop3s")


def service_endpoint(cfg: Config, service: str) -> tuple[str, int]:
    """(host, port) of a service from the config; port 0 means "not offered"."""
    section, attr, _ = SERVICES[service]
    sec = getattr(cfg, section)
    return sec.host, int(getattr(sec, attr))


def registry(cfg: Config) -> list[Check]:
    """Every check, in the order reports show them. Services whose port is 0 are not offered."""
    t = cfg.general.timeout
    checks = [
        Check("system.postfix", "Postfix", _postfix, timeout=t + 1, refresh=cfg.refresh.health),
        Check("system.dovecot", "Dovecot", _dovecot, timeout=t + 1, refresh=cfg.refresh.health),
        Check("dns.resolver", "the DNS resolver", _dns_resolver, timeout=cfg.dns.timeout + 1, refresh=cfg.refresh.dns),
    ]
    for service, (_, _, daemon) in SERVICES.items():
        if service_endpoint(cfg, service)[1] > 0:
            checks.append(
                Check(
                    f"system.{service}",
                    f"{service} port",
                    _port_check(service),
                    timeout=t + 1,
                    depends=(daemon,),
                    refresh=cfg.refresh.health,
                )
            )
    for service in TLS_SERVICES:
        if service_endpoint(cfg, service)[1] > 0:
            daemon = SERVICES[service][2]
            checks.append(
                Check(
                    f"tls.{service}",
                    f"TLS on {service}",
                    _tls_check(service),
                    timeout=2 * t + 1,
                    depends=(daemon,),
                    refresh=cfg.refresh.tls,
                )
            )
    # DNS and relay: a few dozen queries / an SMTP conversation per target, each with its own timeout.
    checks += [
        Check("dns", "DNS and MX", _dns, timeout=3 * cfg.dns.timeout + 2, depends=("dns.resolver",),
              refresh=cfg.refresh.dns),
        Check("relay", "open relay", _relay, timeout=2 * t + 2, depends=("system.postfix",), refresh=cfg.refresh.relay),
        Check("queue", "mail queue", _queue, timeout=t + 5, depends=("system.postfix",), refresh=cfg.refresh.health),
        Check("logs", "mail log", _log, timeout=t + 5, refresh=cfg.refresh.health),
        Check("quota", "mailbox quota", _quota, timeout=t + 2, refresh=cfg.refresh.quota),
        Check("storage", "mail store space", _storage, timeout=t + 1, refresh=cfg.refresh.quota),
        Check("aliases", "aliases", _aliases, timeout=3 * t + 2, refresh=cfg.refresh.health),
    ]
    if cfg.probe.mailbox_user:
        # Log in to each POP/IMAP endpoint as the probe mailbox user (the four run side by side).
        checks.append(Check("access", "POP/IMAP logins", _access, timeout=t + 3, depends=("system.dovecot",),
                            refresh=cfg.refresh.health))
    if cfg.probe.target:
        # Sends a real message and waits for the reply: never part of a plain --check or the dashboard's
        # polling; `mailtop --check --only probe` runs it (the Probes panel has its own button).
        checks.append(Check("probe", "autoresponder probe", _probe, timeout=cfg.probe.timeout + 10,
                            depends=("system.postfix",), refresh=max(900.0, cfg.refresh.health), opt_in=True))
    return checks


# --------------------------------------------------------------------------- selection


def id_matches(item: str, prefix: str) -> bool:
    """``prefix`` selects ``item`` when equal or ``item`` is below it (``tls`` -> ``tls.smtp``)."""
    return item == prefix or item.startswith(prefix + ".")


def split_ids(text: str | Iterable[str] | None) -> list[str]:
    if not text:
        return []
    parts = text.split(",") if isinstance(text, str) else list(text)
    return [p.strip().strip(".") for p in parts if p.strip().strip(".")]


@dataclass(frozen=True, slots=True)
class Selection:
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()

    def check_selected(self, check_id: str) -> bool:
        """Run this check for reporting? (A filter below a check id selects the check; its findings
        are filtered by :meth:`finding_selected`.)"""
        if any(id_matches(check_id, s) for s in self.skip):
            return False
        if not self.only:
            return True
        return any(id_matches(check_id, o) or id_matches(o, check_id) for o in self.only)

    def finding_selected(self, finding_id: str) -> bool:
        if any(id_matches(finding_id, s) for s in self.skip):
            return False
        return not self.only or any(id_matches(finding_id, o) for o in self.only)


def _selection_notes(checks: list[Check], sel: Selection) -> list[Finding]:
    notes = []
    ids = [c.id for c in checks]
    for o in sel.only:
        if not any(id_matches(c, o) or id_matches(o, c) for c in ids):
            known = sorted({c.split(".")[0] for c in ids} | set(ids))
            close = difflib.get_close_matches(o, known, n=1, cutoff=0.6)
            notes.append(
                Finding(
                    "mailtop.selection",
                    Status.UNKNOWN,
                    f"--only {o!r} matches no check" + (f" (did you mean {close[0]!r}?)" if close else ""),
                    details="known checks: " + ", ".join(ids),
                    hint="fix the --only list",
                )
            )
    return notes


# --------------------------------------------------------------------------- the runner


def _ensure_below(check_id: str, findings: Iterable[Finding]) -> tuple[Finding, ...]:
    from dataclasses import replace

    out = []
    for f in findings:
        if not isinstance(f, Finding):
            raise TypeError(f"check {check_id} returned {type(f).__name__}, not Finding")
        if not id_matches(f.id, check_id):
            f = replace(f, id=f"{check_id}.{f.id}")
        out.append(f)
    return tuple(out)


def _error_finding(check: Check, exc: BaseException) -> Finding:
    tb = traceback.extract_tb(exc.__traceback__)
    where = "; ".join(f"{fr.filename.rsplit('/', 1)[-1]}:{fr.lineno} in {fr.name}" for fr in tb[-3:])
    return Finding(
        id=check.id,
        status=Status.UNKNOWN,
        summary=f"{check.title}: check failed: {type(exc).__name__}: {exc}"[:300],
        details=f"raised at {where}" if where else "",
        hint="this is a bug in mailtop or an unexpected system state; the other checks still ran",
        data={"error": f"{type(exc).__name__}: {exc}"},
    )


async def _run_one(check: Check, cfg: Config, prereqs: list[asyncio.Task[CheckResult]], reported: bool,
                   titles: dict[str, str]) -> CheckResult:
    if prereqs:
        results = await asyncio.gather(*prereqs)
        down = [r for r in results if r.down]
        if down:
            names = ", ".join(f"{titles.get(r.check, r.check)} ({r.check})" for r in down)
            return CheckResult(
                check.id,
                (
                    Finding(
                        check.id,
                        Status.UNKNOWN,
                        f"skipped: {names} is down",
                        details="a prerequisite of this check is down; see its finding",
                        hint="fix the prerequisite first",
                        data={"skipped_because": [r.check for r in down]},
                    ),
                ),
                state="skipped",
                started=time.perf_counter(),
                elapsed=0.0,
                reported=reported,
            )
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout):
            findings = await check.func(cfg)
        out = _ensure_below(check.id, findings)
        state = "ran"
    except TimeoutError:
        out = (
            Finding(
                check.id,
                Status.UNKNOWN,
                f"{check.title}: no result within {check.timeout:g} s",
                details="the check was stopped at its timeout",
                hint="something it talks to hangs; see the related findings",
            ),
        )
        state = "timeout"
    except Exception as exc:  # noqa: BLE001 - a failing check becomes a visible UNKNOWN finding, by design
        out = (_error_finding(check, exc),)
        state = "error"
    return CheckResult(check.id, out, state=state, started=t0, elapsed=time.perf_counter() - t0, reported=reported)


async def run_checks(
    cfg: Config,
    only: str | Iterable[str] | None = None,
    skip: str | Iterable[str] | None = None,
    checks: list[Check] | None = None,
    ids: Iterable[str] | None = None,
) -> CheckRun:
    """Run the selected checks concurrently; results in registry order.

    ``only``/``skip``: the ``--only``/``--skip`` selection (dotted prefixes). ``ids``: exactly these
    check ids and nothing below them (the dashboard runs one check per source this way: ``dns`` without
    ``dns.resolver``); their prerequisites still run, silently.
    """
    t0 = time.perf_counter()
    wall_time = time.time()
    all_checks = registry(cfg) if checks is None else checks
    sel = Selection(tuple(split_ids(only)), tuple(split_ids(skip)))
    by_id = {c.id: c for c in all_checks}
    titles = {c.id: c.title for c in all_checks}
    if ids is not None:
        exact = set(ids)
        wanted = [c for c in all_checks if c.id in exact]
    else:
        wanted = [
            c for c in all_checks
            if sel.check_selected(c.id) and (not c.opt_in or any(id_matches(c.id, o) for o in sel.only))
        ]
    # prerequisites of wanted checks run too (unless skipped), reported only if wanted themselves
    needed: dict[str, bool] = {}

    def need(check: Check, reported: bool) -> None:
        for dep in check.depends:
            if dep in by_id and not any(id_matches(dep, s) for s in sel.skip) and dep not in needed:
                needed[dep] = False
                need(by_id[dep], False)
        needed[check.id] = needed.get(check.id, False) or reported

    for c in wanted:
        need(c, True)
    tasks: dict[str, asyncio.Task[CheckResult]] = {}

    def task_for(check_id: str) -> asyncio.Task[CheckResult]:
        if check_id not in tasks:
            check = by_id[check_id]
            deps = [task_for(d) for d in check.depends if d in needed]
            tasks[check_id] = asyncio.create_task(_run_one(check, cfg, deps, needed[check_id], titles),
                                                  name=f"check {check_id}")
        return tasks[check_id]

    order = [c.id for c in all_checks if c.id in needed]
    for cid in order:
        task_for(cid)
    results = []
    for cid in order:
        r = await tasks[cid]
        if r.reported:
            kept = tuple(f for f in r.findings if sel.finding_selected(f.id))
            r = CheckResult(r.check, kept, r.state, r.started, r.elapsed, r.reported)
        results.append(r)
    return CheckRun(
        host=cfg.general.hostname or socket.gethostname(),
        time=wall_time,
        started=t0,
        wall=time.perf_counter() - t0,
        results=tuple(results),
        notes=tuple(_selection_notes(all_checks, sel)) if ids is None else (),
    )
