"""Services: Postfix master and Dovecot running, their ports listening, each port greeting in time.

Collectors return frozen records (:class:`DaemonState`, :class:`PortState`); the ``*_findings``
functions turn them into findings for the check registry (``mailtop.checks``).

- Postfix: ``postconf -c DIR -h queue_directory`` gives the queue; ``<queue>/pid/master.pid`` names the
  master process, which must exist (psutil, not a zombie). That file is root-only on Debian: without
  permission we fall back to looking for a process named ``master`` and say so.
- Dovecot: ``doveconf -c CONF -h base_dir`` gives ``<base_dir>/master.pid`` likewise.
- Ports: psutil lists the listening TCP sockets (for a local host); then a connection reads the greeting
  (``220`` for SMTP, ``* OK`` for IMAP, ``+OK`` for POP3; over TLS for the implicit-TLS ports) within
  ``general.timeout``. A port that accepts and never speaks (a tarpit, a wedged daemon) says exactly that.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import shutil
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailtop.config import Config
from mailtop.model import Finding, Metric, Status

if TYPE_CHECKING:
    import ssl

IMPLICIT_TLS = {"smtps", "imaps", "pop3s"}
PROTOCOL = {
    "smtp": "smtp",
    "submission": "smtp",
    "smtps": "smtp",
    "imap": "imap",
    "imaps": "imap",
    "pop3": "pop3",
    "pop3s": "pop3",
}
GOODBYE = {"smtp": b"QUIT\r\n", "imap": b"a1 LOGOUT\r\n", "pop3": b"QUIT\r\n"}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class DaemonState:
    name: str
    """``postfix`` or ``dovecot``."""
    config: str
    """The config dir/file this instance was looked up with."""
    running: bool | None
    """None: could not tell."""
    pid: int | None
    how: str
    """How we know (pid file path, process scan, or what failed)."""
    certain: bool = True
    """False when only a process scan found *a* daemon of this kind (not root: the pid file is unreadable
    and nothing on the command line names the instance)."""


@dataclass(frozen=True, slots=True)
class PortState:
    service: str
    host: str
    port: int
    listening: bool | None
    """From psutil; None when the host is not local or psutil cannot tell."""
    phase: str
    """Where the conversation stopped: ``connect``, ``tls``, ``greeting`` or ``done``."""
    greeting: str
    error: str
    seconds: float
    timeout: float

    @property
    def ok(self) -> bool:
        return self.phase == "done" and not self.error


# --------------------------------------------------------------------------- programs


async def run_program(argv: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``argv`` (no shell) with a timeout; (exit code, stdout, stderr). Raises FileNotFoundError,
    PermissionError or TimeoutError."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def find_program(name: str, *dirs: Path) -> str | None:
    """``name`` as given when it is a path, else in ``dirs``, else on PATH."""
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for d in dirs:
        found = shutil.which(name, path=str(d))
        if found:
            return found
    return shutil.which(name)


def _pid_state(name: str, config: str, pidfile: Path, process_names: tuple[str, ...],
               default_config: str | None = None) -> DaemonState:
    import psutil

    try:
        text = pidfile.read_text().strip()
    except FileNotFoundError:
        return DaemonState(name, config, False, None, f"no pid file {pidfile}")
    except PermissionError:
        return _scan(name, config, process_names, f"{pidfile} is not readable (not root)", default_config)
    try:
        pid = int(text.split()[0])
    except (ValueError, IndexError):
        return DaemonState(name, config, False, None, f"pid file {pidfile} holds {text[:40]!r}")
    try:
        proc = psutil.Process(pid)
        pname, status = proc.name(), proc.status()
    except psutil.NoSuchProcess:
        return DaemonState(name, config, False, pid, f"stale pid file {pidfile}: no process {pid}")
    except psutil.AccessDenied:
        return DaemonState(name, config, True, pid, f"pid {pid} from {pidfile} (details hidden: not root)")
    if status == psutil.STATUS_ZOMBIE:
        return DaemonState(name, config, False, pid, f"process {pid} from {pidfile} is a zombie")
    if pname not in process_names:
        return DaemonState(name, config, False, pid, f"pid {pid} from {pidfile} is {pname!r}, not {process_names[0]}")
    return DaemonState(name, config, True, pid, f"pid {pid} from {pidfile}")


def _config_of(cmdline: list[str]) -> str | None:
    """The ``-c FILE`` of a daemon's command line (Dovecot), None without one."""
    for i, arg in enumerate(cmdline[:-1]):
        if arg == "-c":
            return os.path.realpath(cmdline[i + 1])
    return None


def _scan(name: str, config: str, process_names: tuple[str, ...], why: str,
          default_config: str | None = None) -> DaemonState:
    """Find the daemon among all processes. With ``default_config`` (Dovecot) the instance is told by the
    ``-c`` on its command line (no ``-c``: the default config); Postfix's master shows nothing of the kind."""
    import psutil

    pids: list[int] = []
    mine: list[int] = []
    want = os.path.realpath(config)
    for proc in psutil.process_iter(["name", "status", "cmdline"]):
        if proc.info["name"] not in process_names or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        pids.append(proc.pid)
        if default_config is not None and proc.info["cmdline"]:
            conf = _config_of(proc.info["cmdline"]) or os.path.realpath(default_config)
            if conf == want:
                mine.append(proc.pid)
    if default_config is not None:
        # a dovecot master has children named dovecot too only in old versions; the lowest pid is the master
        if mine:
            return DaemonState(name, config, True, min(mine), f"{why}; process {min(mine)} runs with this config")
        return DaemonState(name, config, False, None,
                           f"{why}; no {process_names[0]} process runs with {config}"
                           + (f" ({len(pids)} with other configs)" if pids else ""))
    if pids:
        return DaemonState(name, config, True, pids[0],
                           f"{why}; found {len(pids)} {process_names[0]} process(es) of any instance: {pids[:5]}",
                           certain=False)
    return DaemonState(name, config, False, None, f"{why}; no {process_names[0]} process at all")


async def postfix_state(cfg: Config, config_dir: Path, timeout: float) -> DaemonState:
    exe = find_program("postconf", cfg.postfix.bin_dir)
    if exe is None:
        return DaemonState("postfix", str(config_dir), None, None, f"postconf not found in {cfg.postfix.bin_dir} or PATH")
    try:
        code, out, err = await run_program([exe, "-c", str(config_dir), "-h", "queue_directory"], timeout)
    except TimeoutError:
        return DaemonState("postfix", str(config_dir), None, None, f"postconf gave no answer within {timeout:g} s")
    except OSError as exc:
        return DaemonState("postfix", str(config_dir), None, None, f"cannot run postconf: {exc}")
    if code != 0 or not out.strip():
        return DaemonState("postfix", str(config_dir), None, None,
                           f"postconf -c {config_dir} failed: {(err or out).strip()[:200]}")
    pidfile = Path(out.strip()) / "pid" / "master.pid"
    from mailtop.checks import in_thread

    return await in_thread(_pid_state, "postfix", str(config_dir), pidfile, ("master",))


async def dovecot_state(cfg: Config, timeout: float) -> DaemonState:
    conf = str(cfg.dovecot.config)
    doveadm = find_program(cfg.dovecot.doveadm)
    dirs = [Path(doveadm).parent] if doveadm else []
    exe = find_program("doveconf", *dirs)
    if exe is None:
        return DaemonState("dovecot", conf, None, None, "doveconf not found on PATH")
    try:
        code, out, err = await run_program([exe, "-c", conf, "-h", "base_dir"], timeout)
    except TimeoutError:
        return DaemonState("dovecot", conf, None, None, f"doveconf gave no answer within {timeout:g} s")
    except OSError as exc:
        return DaemonState("dovecot", conf, None, None, f"cannot run doveconf: {exc}")
    if code != 0 or not out.strip():
        return DaemonState("dovecot", conf, None, None, f"doveconf -c {conf} failed: {(err or out).strip()[:200]}")
    from mailtop.checks import in_thread

    return await in_thread(_pid_state, "dovecot", conf, Path(out.strip()) / "master.pid", ("dovecot",),
                           "/etc/dovecot/dovecot.conf")


def _daemon_finding(fid: str, label: str, st: DaemonState, hint_start: str) -> Finding:
    if st.running is None:
        return Finding(fid, Status.UNKNOWN, f"{label}: cannot tell whether it runs", details=st.how,
                       hint="check the program paths in the config ([postfix] bin_dir, [dovecot] doveadm)",
                       data={"config": st.config})
    if not st.running:
        return Finding(fid, Status.CRITICAL, f"{label} is not running", details=st.how, hint=hint_start,
                       data={"config": st.config, "pid": st.pid})
    if not st.certain:
        return Finding(fid, Status.OK, f"{label}: a {st.name} master runs (pid {st.pid}), but without root "
                       "mailtop cannot tell whether it is this instance", details=st.how,
                       hint="run mailtop as root for a certain answer", data={"config": st.config, "pid": st.pid,
                                                                              "certain": False})
    return Finding(fid, Status.OK, f"{label} is running (pid {st.pid})", details=st.how,
                   data={"config": st.config, "pid": st.pid, "certain": True})


async def postfix_findings(cfg: Config) -> list[Finding]:
    """``system.postfix`` for the main instance, ``system.postfix.<dir name>`` for each further one.

    Only the main instance decides whether dependants are skipped: a further instance that is down is a
    WARNING here, not CRITICAL.
    """
    t = cfg.general.timeout
    dirs = [cfg.postfix.config_dir] + [Path(p) for p in cfg.postfix.instances]
    states = await asyncio.gather(*(postfix_state(cfg, d, t) for d in dirs))
    out = []
    for i, (d, st) in enumerate(zip(dirs, states, strict=True)):
        fid = "system.postfix" if i == 0 else f"system.postfix.{_slug(d.name)}"
        f = _daemon_finding(fid, f"Postfix ({d})", st, f"start it: postfix -c {d} start; then read its log")
        if i > 0 and f.status is Status.CRITICAL:
            f = Finding(f.id, Status.WARNING, f.summary, f.details, f.hint, f.metrics, f.data)
        out.append(f)
    return out


async def dovecot_findings(cfg: Config) -> list[Finding]:
    st = await dovecot_state(cfg, cfg.general.timeout)
    return [_daemon_finding("system.dovecot", f"Dovecot ({cfg.dovecot.config})", st,
                            f"start it: dovecot -c {cfg.dovecot.config}; then read its log")]


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text).strip("-") or "instance"


# --------------------------------------------------------------------------- ports


def listening_ports() -> dict[int, set[str]] | None:
    """port -> local addresses listening on it (TCP), or None when psutil cannot tell."""
    import psutil

    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.AccessDenied, OSError):
        return None
    out: dict[int, set[str]] = {}
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr:
            out.setdefault(c.laddr.port, set()).add(c.laddr.ip)
    return out


_LISTEN_CACHE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[float, asyncio.Future]] = (
    weakref.WeakKeyDictionary()
)
_LISTEN_TTL = 2.0


async def shared_listening_ports() -> dict[int, set[str]] | None:
    """:func:`listening_ports`, computed once for all the port checks of one run: psutil maps every
    socket to its process, ~20 ms of CPU each time, and the seven port checks start together."""
    from mailtop.checks import in_thread

    loop = asyncio.get_running_loop()
    cached = _LISTEN_CACHE.get(loop)
    if cached is None or time.monotonic() - cached[0] > _LISTEN_TTL:
        cached = (time.monotonic(), asyncio.ensure_future(in_thread(listening_ports)))
        _LISTEN_CACHE[loop] = cached
    return await asyncio.shield(cached[1])


def _is_local(host: str) -> bool:
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host in ("localhost", "localhost.localdomain")
    if addr.is_loopback or addr.is_unspecified:
        return True
    import psutil

    return any(a.address == host for addrs in psutil.net_if_addrs().values() for a in addrs)


def _listens(table: dict[int, set[str]], host: str, port: int) -> bool:
    addrs = table.get(port, set())
    wildcard = {"0.0.0.0", "::"}
    if host in ("localhost", "localhost.localdomain"):
        return bool(addrs & {"127.0.0.1", "::1"} or addrs & wildcard)
    return host in addrs or bool(addrs & wildcard)


@functools.lru_cache(maxsize=1)
def insecure_context() -> ssl.SSLContext:
    """A TLS client context that accepts any certificate: the greeting check proves the service answers;
    ``mailtop.health.tls`` judges the certificate (and reads it through this context when the chain does
    not verify). Cached and shared: callers must not modify it."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def read_reply(reader: asyncio.StreamReader, protocol: str, limit: int = 64) -> list[str]:
    """Read one reply: an SMTP reply may span lines (``250-...`` then ``250 ...``); IMAP/POP3 greetings
    are one line. Raises ConnectionError on EOF."""
    lines: list[str] = []
    while len(lines) < limit:
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("connection closed by the server" + (f" after {lines[-1]!r}" if lines else ""))
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        lines.append(line)
        if protocol != "smtp" or len(line) < 4 or line[3] != "-":
            break
    return lines


async def close_writer(writer: asyncio.StreamWriter, wait: float = 0.5) -> None:
    """Close a connection we are done with, waiting at most ``wait`` seconds for it to go.

    Its result is already decided, so a peer that resets or stalls the close (OSError, including TLS
    errors, or a timeout) changes nothing."""
    writer.close()
    try:
        async with asyncio.timeout(wait):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        pass  # see the docstring: nothing left to report


def greeting_ok(protocol: str, line: str) -> bool:
    if protocol == "smtp":
        return line.startswith("220")
    if protocol == "imap":
        return line.upper().startswith(("* OK", "* PREAUTH"))
    return line.startswith("+OK")


async def probe_port(service: str, host: str, port: int, timeout: float,
                     listening: bool | None = None) -> PortState:
    protocol = PROTOCOL[service]
    t0 = time.perf_counter()
    phase = "connect"
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            if service in IMPLICIT_TLS:
                phase = "tls"
                await writer.start_tls(insecure_context(), ssl_handshake_timeout=timeout)
            phase = "greeting"
            lines = await read_reply(reader, protocol)
            phase = "done"
            greeting = lines[-1] if lines else ""
            writer.write(GOODBYE[protocol])
            error = "" if greeting_ok(protocol, greeting) else "unexpected greeting"
            return PortState(service, host, port, listening, phase, greeting, error, time.perf_counter() - t0, timeout)
    except TimeoutError:
        return PortState(service, host, port, listening, phase, "", f"timed out after {timeout:g} s",
                         time.perf_counter() - t0, timeout)
    except OSError as exc:
        import ssl

        msg = (os.strerror(exc.errno) if exc.errno else exc.strerror) or str(exc) or type(exc).__name__
        if isinstance(exc, ssl.SSLError):
            msg = f"TLS handshake failed: {exc.reason or exc}"
        return PortState(service, host, port, listening, phase, "", msg, time.perf_counter() - t0, timeout)
    finally:
        if writer is not None:
            await close_writer(writer)


_PHASE_TEXT = {
    "connect": "no TCP connection",
    "tls": "connected but the TLS handshake did not finish",
    "greeting": "accepted the connection but sent no greeting",
}


def port_finding(st: PortState) -> Finding:
    fid = f"system.{st.service}"
    where = f"{st.service} {st.host}:{st.port}"
    listen_text = {True: "listening (psutil)", False: "not listening (psutil)", None: "listening state unknown"}[
        st.listening
    ]
    metrics = (Metric(f"{fid}.time", round(st.seconds, 4), "s", crit=st.timeout, min=0),)
    data = {"host": st.host, "port": st.port, "listening": st.listening, "phase": st.phase, "greeting": st.greeting}
    if st.ok:
        return Finding(fid, Status.OK, f"{where} greets in {st.seconds * 1000:.0f} ms",
                       details=f"{listen_text}; greeting: {st.greeting[:200]}", metrics=metrics, data=data)
    if st.phase == "done":
        return Finding(fid, Status.CRITICAL, f"{where} answers {st.greeting[:80]!r} instead of a greeting",
                       details=f"{listen_text}; the server refuses service", metrics=metrics, data=data,
                       hint="read the service's log: it may be overloaded or misconfigured")
    if st.listening is False:
        return Finding(fid, Status.CRITICAL, f"{where} is not listening",
                       details=f"{listen_text}; connect: {st.error}", metrics=metrics, data=data,
                       hint="check the service's listener (master.cf for Postfix, listeners in dovecot.conf)")
    if "timed out" in st.error:
        summary = f"{where}: {_PHASE_TEXT.get(st.phase, st.phase)} within {st.timeout:g} s"
        hint = "the daemon accepts but does not serve: overloaded, wedged, or not the expected service"
    else:
        summary = f"{where}: {_PHASE_TEXT.get(st.phase, st.phase)} ({st.error})"
        hint = "check that the service runs and listens on this address and port"
    return Finding(fid, Status.CRITICAL, summary, details=f"{listen_text}; {st.error}", metrics=metrics,
                   data=data, hint=hint)


async def port_findings(cfg: Config, service: str) -> list[Finding]:
    from mailtop.checks import service_endpoint

    host, port = service_endpoint(cfg, service)
    listening: bool | None = None
    if _is_local(host):
        table = await shared_listening_ports()
        if table is not None:
            listening = _listens(table, host, port)
    st = await probe_port(service, host, port, cfg.general.timeout, listening)
    return [port_finding(st)]
