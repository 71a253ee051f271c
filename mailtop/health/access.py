"""POP3 and IMAP login tests, step by step, the way ``telnet host 110`` and ``a01 login`` tests are done.

:func:`check_login` runs one session against one endpoint and returns a frozen :class:`LoginResult`:
every step timed, with a :class:`Verdict` (OK, refused, timeout, TLS failure, authentication failed,
...), the server's greeting and capabilities, the message count, and the server certificate (subject,
issuer, expiry) when the session used TLS.

- IMAP (imapclient): connect, tls (implicit TLS), greeting, capabilities, starttls (when asked),
  login, list, select INBOX (read-only, message count), logout.
- POP3 (poplib): connect, tls (implicit TLS), greeting, capa, stls (when asked), user, pass, stat, quit.

``timeout`` is the budget for the whole session: every socket operation gets what is left of it, so a
server that accepts the connection and never answers gives a ``timeout`` verdict within ``timeout``
seconds, never a hang.

The password is an argument of :func:`check_login` only. It is never stored in a record, and any text
taken from the server is scrubbed of it before it is kept (see :func:`_scrub`).

Thread-friendly: :func:`check_login` blocks (run it in a worker thread);
:func:`check_login_async` runs it in a thread for asyncio callers.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import enum
import functools
import imaplib
import os
import poplib
import socket
import ssl
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from mailtop.health.x509 import DerError, parse_certificate

PROTOCOLS = ("imap", "imaps", "pop3", "pop3s")


class Verdict(enum.StrEnum):
    OK = "ok"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    TLS_FAILURE = "TLS failure"
    AUTH_FAILED = "authentication failed"
    PROTOCOL_ERROR = "protocol error"
    """The server answered, but not as the protocol says (closed the connection, -ERR, BAD...)."""
    UNREACHABLE = "unreachable"
    """Name does not resolve, no route, network down: the TCP connection never started."""
    SKIPPED = "skipped"
    """Not run because an earlier step failed."""


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    verdict: Verdict
    seconds: float
    detail: str = ""
    """What the server said (one line, control characters removed), or why the step failed."""

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.OK


@dataclass(frozen=True, slots=True)
class CertInfo:
    subject: str
    issuer: str
    not_before: str
    """ISO 8601, UTC."""
    not_after: str
    days_left: float
    self_signed: bool
    verified: bool
    """The chain and host name were checked against the system's CAs (False with allow_self_signed)."""
    names: tuple[str, ...] = ()
    """subjectAltName entries (DNS names and IP addresses)."""
    tls_version: str = ""
    cipher: str = ""


@dataclass(frozen=True, slots=True)
class LoginSpec:
    """Where and how to log in. Holds no password."""

    protocol: str
    """imap, imaps, pop3 or pop3s."""
    host: str
    port: int
    user: str
    starttls: bool = False
    """Upgrade a plain connection with STARTTLS (IMAP) or STLS (POP3)."""
    insecure: bool = False
    """Accept any certificate (self-signed, wrong name, expired); still reports it."""
    timeout: float = 10.0
    source_address: str = ""
    """Local address to connect from ("" lets the system choose). Servers such as Dovecot delay every
    login from an address after a failed one (auth penalty); a separate source keeps tests apart."""

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}")
        if self.starttls and self.protocol in ("imaps", "pop3s"):
            raise ValueError(f"{self.protocol} is already TLS from the first byte: --starttls is for imap and pop3")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, not {self.port}")
        if self.timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")

    @property
    def family(self) -> str:
        return "imap" if self.protocol.startswith("imap") else "pop3"

    @property
    def implicit_tls(self) -> bool:
        return self.protocol in ("imaps", "pop3s")

    @property
    def label(self) -> str:
        mode = "STARTTLS" if self.starttls else ("TLS" if self.implicit_tls else "plain")
        return f"{self.protocol.upper()} {self.host}:{self.port} ({mode}) as {self.user}"


@dataclass(frozen=True, slots=True)
class LoginResult:
    spec: LoginSpec
    steps: tuple[Step, ...]
    started: str
    """Wall-clock start, ISO 8601 UTC."""
    seconds: float
    """Total duration of the session."""
    greeting: str = ""
    capabilities: tuple[str, ...] = ()
    mailboxes: int | None = None
    """Folders listed (IMAP)."""
    messages: int | None = None
    """Messages in INBOX (IMAP EXISTS, POP3 STAT)."""
    octets: int | None = None
    """Mailbox size in octets (POP3 STAT)."""
    cert: CertInfo | None = None
    encrypted: bool = False
    """The login itself went over TLS."""

    @property
    def ok(self) -> bool:
        return all(s.verdict is Verdict.OK for s in self.steps)

    @property
    def failed_step(self) -> Step | None:
        for s in self.steps:
            if s.verdict not in (Verdict.OK, Verdict.SKIPPED):
                return s
        return None

    @property
    def verdict(self) -> Verdict:
        failed = self.failed_step
        return failed.verdict if failed else Verdict.OK

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (holds no password: the records never see it)."""
        d = asdict(self)
        d["verdict"] = str(self.verdict)
        d["ok"] = self.ok
        d["steps"] = [{**asdict(s), "verdict": str(s.verdict)} for s in self.steps]
        return d


IMAP_STEPS = ("connect", "tls", "greeting", "capabilities", "starttls", "login", "list", "select", "logout")
POP3_STEPS = ("connect", "tls", "greeting", "capa", "stls", "user", "pass", "stat", "quit")


def planned_steps(spec: LoginSpec) -> tuple[str, ...]:
    """The steps a session for ``spec`` runs, in order (TLS steps only where they apply)."""
    names = IMAP_STEPS if spec.family == "imap" else POP3_STEPS
    drop = set()
    if not spec.implicit_tls:
        drop.add("tls")
    if not spec.starttls:
        drop.update(("starttls", "stls"))
    return tuple(n for n in names if n not in drop)


# --------------------------------------------------------------------------- text hygiene


def _scrub(text: str, secret: str) -> str:
    """One line of server text fit to show: secret removed, control characters gone, length capped."""
    if secret:
        text = text.replace(secret, "***")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = " ".join(text.split())
    return text[:300]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value if v is not None)
    if value is None:
        return ""
    text = str(value)
    # imapclient wraps imaplib's bytes responses with str(): "b'[AUTHENTICATIONFAILED] ...'"
    if len(text) >= 3 and text[:2] in ("b'", 'b"') and text[-1] == text[1]:
        text = text[2:-1]
    return text


# --------------------------------------------------------------------------- errors -> verdicts


def _is_timeout(exc: BaseException) -> bool:
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (TimeoutError, socket.timeout)):
            return True
        if "timed out" in str(e).lower():
            return True
        e = e.__cause__ or e.__context__
    return False


def classify(exc: BaseException, *, auth_step: bool = False) -> tuple[Verdict, str]:
    """Turn an exception from a step into a verdict and a one-line reason."""
    if _is_timeout(exc):
        return Verdict.TIMEOUT, "no answer within the timeout"
    if isinstance(exc, ConnectionRefusedError):
        return Verdict.REFUSED, "connection refused (nothing listens on that port)"
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or str(exc)
        return Verdict.TLS_FAILURE, f"certificate not trusted: {why} (use --insecure / allow_self_signed to accept it)"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        hint = ""
        if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"):
            hint = " (the server does not speak TLS on this port: a plain-text port?)"
        return Verdict.TLS_FAILURE, f"TLS handshake failed: {reason}{hint}"
    if isinstance(exc, DerError):
        return Verdict.TLS_FAILURE, f"the TLS handshake worked, but the server's certificate could not be read: {exc}"
    if isinstance(exc, socket.gaierror):
        return Verdict.UNREACHABLE, f"host name does not resolve: {exc.strerror or exc}"
    if isinstance(exc, ConnectionResetError):
        return Verdict.PROTOCOL_ERROR, "connection reset by the server"
    if isinstance(exc, (imaplib.IMAP4.abort,)) and "EOF" in str(exc):
        return Verdict.PROTOCOL_ERROR, "the server closed the connection"
    if isinstance(exc, (imaplib.IMAP4.error, poplib.error_proto)):
        return (Verdict.AUTH_FAILED if auth_step else Verdict.PROTOCOL_ERROR), _text(exc.args[0] if exc.args else exc)
    if isinstance(exc, EOFError):
        return Verdict.PROTOCOL_ERROR, "the server closed the connection"
    if isinstance(exc, OSError):
        if exc.errno in (101, 113, 110):  # ENETUNREACH, EHOSTUNREACH, ETIMEDOUT
            return Verdict.UNREACHABLE, exc.strerror or str(exc)
        return Verdict.PROTOCOL_ERROR, exc.strerror or str(exc)
    return Verdict.PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- certificates


@functools.lru_cache(maxsize=2)
def tls_context(insecure: bool) -> ssl.SSLContext:
    """The client context: the system's CAs and host-name checks, or (insecure) accept any certificate.

    Cached (loading the system's CA bundle costs ~10 ms) and shared: callers must not modify it.
    """
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cert_info(sock: ssl.SSLSocket, *, verified: bool, now: _dt.datetime | None = None) -> CertInfo | None:
    der = sock.getpeercert(binary_form=True)
    if not der:
        return None
    cert = parse_certificate(der)
    cipher = sock.cipher()
    return CertInfo(
        subject=cert.subject,
        issuer=cert.issuer,
        not_before=cert.not_before.isoformat(),
        not_after=cert.not_after.isoformat(),
        days_left=round(cert.days_left(now), 2),
        self_signed=cert.subject == cert.issuer,
        verified=verified,
        names=cert.san,
        tls_version=sock.version() or "",
        cipher=cipher[0] if cipher else "",
    )


# --------------------------------------------------------------------------- the session runner


class _Session:
    """Runs named steps against a deadline and records them."""

    def __init__(self, spec: LoginSpec, secret: str) -> None:
        self.spec = spec
        self.secret = secret
        self.deadline = time.monotonic() + spec.timeout
        self.steps: list[Step] = []
        self.failed = False
        self.sock: socket.socket | None = None

    def remaining(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    def arm(self) -> None:
        """Give the socket what is left of the budget for the next operation."""
        if self.sock is not None:
            self.sock.settimeout(self.remaining())

    def run(self, name: str, fn: Callable[[], Any], *, auth: bool = False) -> Any:
        if self.failed:
            self.steps.append(Step(name, Verdict.SKIPPED, 0.0))
            return None
        if time.monotonic() >= self.deadline:
            self.steps.append(Step(name, Verdict.TIMEOUT, 0.0, "the session's time budget was used up"))
            self.failed = True
            return None
        self.arm()
        t0 = time.perf_counter()
        try:
            value, detail = fn()
        except (OSError, EOFError, imaplib.IMAP4.error, poplib.error_proto, ValueError) as exc:
            verdict, why = classify(exc, auth_step=auth)
            if auth and verdict is Verdict.TIMEOUT:
                why += (" (servers delay logins from an address after failed ones, e.g. Dovecot's auth"
                        " penalty of 2-15 s: try again later, from another address, or with a longer --timeout)")
            self.steps.append(Step(name, verdict, time.perf_counter() - t0, _scrub(why, self.secret)))
            self.failed = True
            return None
        self.steps.append(Step(name, Verdict.OK, time.perf_counter() - t0, _scrub(detail, self.secret)))
        return value

    def skip_rest(self, names: tuple[str, ...]) -> None:
        done = {s.name for s in self.steps}
        for n in names:
            if n not in done:
                self.steps.append(Step(n, Verdict.SKIPPED, 0.0))

    def connect(self) -> tuple[socket.socket, str]:
        source = (self.spec.source_address, 0) if self.spec.source_address else None
        sock = socket.create_connection((self.spec.host, self.spec.port), timeout=self.remaining(),
                                        source_address=source)
        self.sock = sock
        peer = sock.getpeername()
        return sock, f"connected to {peer[0]}:{peer[1]}"

    def wrap(self, ctx: ssl.SSLContext) -> tuple[ssl.SSLSocket, str]:
        assert self.sock is not None
        tls = ctx.wrap_socket(self.sock, server_hostname=self.spec.host)
        self.sock = tls
        return tls, f"{tls.version()} {(tls.cipher() or ('',))[0]}"

    def encrypted(self, sock: ssl.SSLSocket, result: dict[str, Any]) -> None:
        """The session now runs over ``sock`` (TLS): record its certificate.

        Call it inside a step: a certificate that cannot be read raises :class:`DerError`, which the step
        turns into a TLS failure saying so."""
        self.sock = sock
        result["cert"] = cert_info(sock, verified=not self.spec.insecure)
        result["encrypted"] = True

    def open(self, ctx: ssl.SSLContext, result: dict[str, Any]) -> bool:
        """The steps every protocol starts with: connect, and the TLS handshake on an implicit-TLS port.
        False when one failed (the caller skips the rest)."""
        if self.run("connect", self.connect) is None:
            return False
        if self.spec.implicit_tls:
            def tls() -> tuple[ssl.SSLSocket, str]:
                tls_sock, detail = self.wrap(ctx)
                self.encrypted(tls_sock, result)  # the server's certificate is read in the tls step
                return tls_sock, detail

            if self.run("tls", tls) is None:
                return False
        return True

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass  # closing a dead socket: nothing left to release or report


class _PreconnectedIMAP4(imaplib.IMAP4):
    """imaplib on a socket we connected (and maybe wrapped) ourselves, so connect and TLS are timed apart."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self._given_sock = sock
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._given_sock


def _imap_client_class():
    from imapclient import IMAPClient

    class _Client(IMAPClient):
        # IMAPClient opens its own connection in _create_IMAP4; this is the one hook we override, to hand
        # it the socket whose connect and TLS handshake we already timed.
        def __init__(self, imap4: imaplib.IMAP4, host: str, port: int, is_ssl: bool, timeout: float) -> None:
            self._given_imap4 = imap4
            super().__init__(host, port=port, ssl=is_ssl, timeout=timeout)

        def _create_IMAP4(self) -> imaplib.IMAP4:
            return self._given_imap4

    return _Client


def _check_imap(s: _Session, password: str, result: dict[str, Any]) -> None:
    spec = s.spec
    ctx = tls_context(spec.insecure)
    client_cls = _imap_client_class()
    names = planned_steps(spec)
    holder: dict[str, Any] = {}

    if not s.open(ctx, result):
        return s.skip_rest(names)

    def greet():
        assert s.sock is not None
        imap4 = _PreconnectedIMAP4(s.sock, spec.host, spec.port)
        client = client_cls(imap4, spec.host, spec.port, spec.implicit_tls, s.remaining())
        holder["client"] = client
        welcome = _text(client.welcome)
        result["greeting"] = _scrub(welcome, password)
        return client, welcome

    client = s.run("greeting", greet)
    if client is None:
        return s.skip_rest(names)

    def caps():
        c = tuple(_text(x) for x in client.capabilities())
        result["capabilities"] = c
        return c, " ".join(c)

    s.run("capabilities", caps)
    if spec.starttls:
        def starttls():
            if not client.has_capability("STARTTLS"):
                raise imaplib.IMAP4.error("the server does not offer STARTTLS")
            resp = _text(client.starttls(ctx))
            sock = client.socket()
            s.encrypted(sock, result)
            result["capabilities"] = tuple(_text(x) for x in client.capabilities())
            return True, resp or f"TLS established: {sock.version()} {(sock.cipher() or ('',))[0]}"

        s.run("starttls", starttls)

    def login():
        resp = client.login(spec.user, password)
        return True, _text(resp)

    s.run("login", login, auth=True)

    def listing():
        folders = client.list_folders()
        result["mailboxes"] = len(folders)
        return folders, f"{len(folders)} folder(s): " + ", ".join(_text(f[2]) for f in folders[:10])

    s.run("list", listing)

    def select():
        info = client.select_folder("INBOX", readonly=True)
        count = int(info.get(b"EXISTS", 0))
        result["messages"] = count
        return count, f"{count} message(s) in INBOX"

    s.run("select", select)

    def logout():
        return True, _text(client.logout())

    s.run("logout", logout)
    s.skip_rest(names)


class _PreconnectedPOP3(poplib.POP3):
    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self._given_sock = sock
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._given_sock


def _check_pop3(s: _Session, password: str, result: dict[str, Any]) -> None:
    spec = s.spec
    ctx = tls_context(spec.insecure)
    names = planned_steps(spec)

    if not s.open(ctx, result):
        return s.skip_rest(names)

    def greet():
        assert s.sock is not None
        pop = _PreconnectedPOP3(s.sock, spec.host, spec.port)
        welcome = _text(pop.welcome)
        result["greeting"] = _scrub(welcome, password)
        if not welcome.startswith("+OK"):
            raise poplib.error_proto(welcome)
        return pop, welcome

    pop = s.run("greeting", greet)
    if pop is None:
        return s.skip_rest(names)

    def capa():
        try:
            caps = pop.capa()
        except poplib.error_proto as exc:  # CAPA is optional (RFC 2449): an -ERR is an answer, not a failure
            return {}, f"no CAPA: {_text(exc.args[0] if exc.args else exc)}"
        result["capabilities"] = tuple(" ".join([k, *v]) for k, v in caps.items())
        return caps, " ".join(caps)

    s.run("capa", capa)
    if spec.starttls:
        def stls():
            resp = pop.stls(ctx)
            s.encrypted(pop.sock, result)
            return True, _text(resp)

        s.run("stls", stls)
    s.run("user", lambda: (True, _text(pop.user(spec.user))), auth=True)
    s.run("pass", lambda: (True, _text(pop.pass_(password))), auth=True)

    def stat():
        count, octets = pop.stat()
        result["messages"], result["octets"] = count, octets
        return count, f"{count} message(s), {octets} octets"

    s.run("stat", stat)
    s.run("quit", lambda: (True, _text(pop.quit())))
    s.skip_rest(names)


def check_login(spec: LoginSpec, password: str) -> LoginResult:
    """Run one login session against ``spec`` (blocking; at most about ``spec.timeout`` seconds)."""
    started = _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")
    s = _Session(spec, password)
    result: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        if spec.family == "imap":
            _check_imap(s, password, result)
        else:
            _check_pop3(s, password, result)
    finally:
        s.close()
    return LoginResult(
        spec=spec,
        steps=tuple(s.steps),
        started=started,
        seconds=time.perf_counter() - t0,
        greeting=result.get("greeting", ""),
        capabilities=tuple(result.get("capabilities", ())),
        mailboxes=result.get("mailboxes"),
        messages=result.get("messages"),
        octets=result.get("octets"),
        cert=result.get("cert"),
        encrypted=bool(result.get("encrypted")),
    )


async def check_login_async(spec: LoginSpec, password: str) -> LoginResult:
    """:func:`check_login` in a worker thread, for asyncio callers (the dashboard)."""
    return await asyncio.to_thread(check_login, spec, password)


# --------------------------------------------------------------------------- passwords


class PasswordError(ValueError):
    """No usable password; the message says where mailtop looked (never the password)."""


def read_password_file(path: Path, warn: TextIO | None = None) -> str:
    """The first line of ``path``. Warns on ``warn`` when others can read the file."""
    path = Path(path).expanduser()
    try:
        st = path.stat()
        with path.open(encoding="utf-8") as fh:
            line = fh.readline()
    except FileNotFoundError:
        raise PasswordError(f"password file {path} does not exist") from None
    except PermissionError:
        raise PasswordError(f"password file {path} is not readable (permission denied)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PasswordError(f"password file {path}: {exc}") from None
    password = line.rstrip("\r\n")
    if not password:
        raise PasswordError(f"password file {path} is empty (the password is its first line)")
    if warn is not None and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        print(f"mailtop: warning: password file {path} can be read by others (chmod 600 it)", file=warn)
    return password


def configured_password(cfg: Any, environ: Mapping[str, str] | None = None) -> str:
    """The probe mailbox's password from ``[probe] password_file``, else ``$[probe] password_env``.

    Never prompts (for the dashboard and checks). Raises :class:`PasswordError`.
    """
    environ = os.environ if environ is None else environ
    if cfg.probe.password_file is not None:
        return read_password_file(cfg.probe.password_file)
    if cfg.probe.password_env and environ.get(cfg.probe.password_env):
        return environ[cfg.probe.password_env]
    raise PasswordError(f"no password for the probe mailbox: set [probe] password_file or ${cfg.probe.password_env}")


# --------------------------------------------------------------------------- from the configuration


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One configured access endpoint, as the Access panel lists them."""

    protocol: str
    host: str
    port: int
    starttls: bool = False
    insecure: bool = False


def configured_endpoints(cfg: Any) -> tuple[Endpoint, ...]:
    """The four endpoints from ``[imap]`` and ``[pop3]``: IMAP with STARTTLS, IMAPS, POP3 with STLS, POP3S.

    A port of 0 means "not offered" and is left out.
    """
    out = []
    for proto, sec, port, starttls in (
        ("imap", cfg.imap, cfg.imap.port, True),
        ("imaps", cfg.imap, cfg.imap.tls_port, False),
        ("pop3", cfg.pop3, cfg.pop3.port, True),
        ("pop3s", cfg.pop3, cfg.pop3.tls_port, False),
    ):
        if port:
            out.append(Endpoint(proto, sec.host, int(port), starttls, bool(sec.allow_self_signed)))
    return tuple(out)


def spec_for(endpoint: Endpoint, user: str, timeout: float) -> LoginSpec:
    return LoginSpec(endpoint.protocol, endpoint.host, endpoint.port, user, endpoint.starttls, endpoint.insecure,
                     timeout)


def check_all(cfg: Any, user: str, password: str, timeout: float | None = None) -> tuple[LoginResult, ...]:
    """Every configured endpoint, one after the other (blocking). For the Access panel and checks."""
    t = timeout if timeout is not None else cfg.general.timeout
    return tuple(check_login(spec_for(ep, user, t), password) for ep in configured_endpoints(cfg))



async def access_findings(cfg: Any) -> list:
    """One finding per configured endpoint (``access.imap``, ``access.imaps``, ...), logging in as the
    probe mailbox user. For the check registry: OK when every step passed, CRITICAL otherwise, UNKNOWN
    when no user or password is configured."""
    from mailtop.model import Finding, Metric, Status

    endpoints = configured_endpoints(cfg)
    user = cfg.probe.mailbox_user
    if not user:
        return [Finding(f"access.{ep.protocol}", Status.UNKNOWN, f"{ep.protocol.upper()} login not tested",
                        hint="set [probe] mailbox_user (and password_file) to test logins") for ep in endpoints]
    try:
        password = configured_password(cfg)
    except PasswordError as exc:
        return [Finding(f"access.{ep.protocol}", Status.UNKNOWN, f"{ep.protocol.upper()} login not tested",
                        details=str(exc)) for ep in endpoints]
    specs = [spec_for(ep, user, cfg.general.timeout) for ep in endpoints]
    results = await asyncio.gather(*(check_login_async(s, password) for s in specs))
    out = []
    for r in results:
        steps = "; ".join(f"{s.name} {s.seconds * 1000:.1f} ms {s.verdict}" for s in r.steps)
        metrics = (Metric(f"{r.spec.protocol}_total", round(r.seconds, 4), "s", min=0),) + tuple(
            Metric(f"{r.spec.protocol}_{s.name}", round(s.seconds, 4), "s", min=0)
            for s in r.steps if s.name in ("connect", "tls", "greeting", "login", "pass") and s.ok)
        if r.ok:
            out.append(Finding(f"access.{r.spec.protocol}", Status.OK,
                               f"{r.spec.label}: login OK in {r.seconds * 1000:.0f} ms", details=steps,
                               metrics=metrics, data=r.to_dict()))
        else:
            failed = r.failed_step
            hint = {
                Verdict.REFUSED: "is the service running and listening on that port?",
                Verdict.TIMEOUT: "the server accepted the connection but did not answer in time",
                Verdict.TLS_FAILURE: "check the certificate and the port (implicit TLS vs STARTTLS)",
                Verdict.AUTH_FAILED: "check the probe user's password and the passdb",
            }.get(r.verdict, "")
            out.append(Finding(f"access.{r.spec.protocol}", Status.CRITICAL,
                               f"{r.spec.label}: {r.verdict} at {failed.name if failed else '?'}",
                               details=(failed.detail if failed else "") + "\n" + steps, hint=hint,
                               metrics=metrics, data=r.to_dict()))
    return out
