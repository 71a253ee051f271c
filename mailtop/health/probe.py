"""Autoresponder probes: send a message with a unique token, wait for the reply, time the round trip.

One probe:

1. log in to the probe mailbox over IMAP and note ``UIDNEXT`` (only later messages can be the reply);
2. send the probe by SMTP (aiosmtplib): submission with STARTTLS and authentication, or port 25,
   from a unique plus-addressed sender ``user+<token>@domain`` (vacation-style responders answer a
   sender once per period; a new sender each time makes them answer every time);
3. wait for a new message in INBOX that carries the token (IMAP IDLE; polling with NOOP when the
   server has no IDLE), within the probe's timeout;
4. report the round trip (from the server accepting the probe to the reply showing up in the mailbox),
   the Authentication-Results (SPF, DKIM, DMARC) and the Received path, of the reply and, when the
   responder echoes them, of the probe itself.

A bounce that carries the token ends the probe as ``bounced``. No reply within the timeout ends it as
``timeout``: never a hang.

API for front ends: :func:`run_probe` (async) and :func:`run_probe_sync` (for a worker thread) return
a frozen :class:`ProbeResult`; ``progress`` receives :class:`ProbeProgress` records while the probe is
in flight, always on the thread that runs the probe's event loop. :func:`read_history` returns past
round trips (JSON lines in ``<state_dir>/probe-history.jsonl``).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import email
import email.message
import email.policy
import email.utils
import enum
import imaplib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mailtop.health.access import tls_context

HISTORY_FILE = "probe-history.jsonl"
TOKEN_HEADER = "X-Mailtop-Probe"


# --------------------------------------------------------------------------- presets


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    address: str
    note: str
    public: bool


PRESETS: tuple[Preset, ...] = (
    Preset("lab", "echo@lab.test", "the bundled lab's echo responder (replies with the headers it received)", False),
    # The public responders listed in the reference lecture (Lecture 15, "Testing the Email MTA Service").
    # Listed as presets only: mailtop never contacts them unless a user asks, and some may no longer answer.
    Preset("sendmail", "sa-test@sendmail.net", "Sendmail's test responder (lecture list)", True),
    Preset("port25", "check-auth@verifier.port25.com", "Port25 verifier: SPF, DKIM, DMARC report", True),
    Preset("elandsys", "autorespond+dkim@dk.elandsys.com", "DKIM autoresponder (lecture list)", True),
    Preset("jasonlong", "test@dkimtest.jason.long.name", "DKIM test responder (lecture list)", True),
    Preset("exhalus", "dktest@exhalus.net", "DKIM test responder (lecture list)", True),
    Preset("altn", "dkim-test@altn.com", "Alt-N DKIM test responder (lecture list)", True),
    Preset("blackops", "dktest@blackops.org", "DKIM test responder (lecture list)", True),
)


def resolve_target(text: str) -> str:
    """A preset name or an address -> an address. Raises ValueError for anything else."""
    text = text.strip()
    for p in PRESETS:
        if text.lower() == p.name:
            return p.address
    if re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+|[^@\s<>]+@[A-Za-z0-9-]+", text):
        return text
    names = ", ".join(p.name for p in PRESETS)
    raise ValueError(f"not an address or a preset name: {text!r} (presets: {names})")


# --------------------------------------------------------------------------- records


class ProbeStatus(enum.StrEnum):
    REPLIED = "replied"
    BOUNCED = "bounced"
    """A delivery status notification came back instead of a reply."""
    TIMEOUT = "timeout"
    """Sent, but no reply within the timeout."""
    SEND_FAILED = "send failed"
    MAILBOX_FAILED = "mailbox failed"
    """Could not log in to the probe mailbox (nothing was sent)."""


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    target: str
    sender: str
    """Base sender address (``probe@lab.test``); each probe sends from ``probe+<token>@lab.test``."""
    submit_host: str
    submit_port: int
    submit_mode: str
    """``submission`` (STARTTLS + AUTH, required) or ``smtp`` (port 25; STARTTLS when offered, no AUTH)."""
    submit_user: str
    helo_name: str
    smtp_insecure: bool
    imap_host: str
    imap_port: int
    imap_implicit_tls: bool
    imap_insecure: bool
    mailbox_user: str
    timeout: float
    state_dir: Path | None = None
    poll_interval: float = 1.0
    idle: bool = True
    """Use IMAP IDLE when the server offers it (otherwise poll)."""
    imap_plaintext_ok: bool = False
    """Log in over plain IMAP when the server offers no STARTTLS ([probe] allow_plaintext_login)."""

    @classmethod
    def from_config(cls, cfg: Any, target: str | None = None, timeout: float | None = None) -> ProbeSettings:
        p = cfg.probe
        address = resolve_target(target or p.target or "lab")
        sender = p.sender or (f"{p.mailbox_user}@{address.rpartition('@')[2]}" if p.mailbox_user else "")
        if not sender or "@" not in sender:
            raise ValueError("no probe sender: set [probe] sender (e.g. probe@example.org)")
        if not p.mailbox_user:
            raise ValueError("no probe mailbox: set [probe] mailbox_user")
        submission = p.submit_via == "submission"
        implicit = bool(cfg.imap.tls_port)
        return cls(
            target=address,
            sender=sender,
            submit_host=cfg.smtp.host,
            submit_port=int(cfg.smtp.submission_port if submission else cfg.smtp.port),
            submit_mode=p.submit_via,
            submit_user=p.mailbox_user,
            helo_name=cfg.smtp.helo_name,
            smtp_insecure=bool(cfg.smtp.allow_self_signed),
            imap_host=cfg.imap.host,
            imap_port=int(cfg.imap.tls_port if implicit else cfg.imap.port),
            imap_implicit_tls=implicit,
            imap_insecure=bool(cfg.imap.allow_self_signed),
            mailbox_user=p.mailbox_user,
            timeout=float(timeout if timeout is not None else p.timeout),
            state_dir=Path(cfg.general.state_dir).expanduser(),
            poll_interval=float(p.poll_interval),
            idle=bool(p.idle),
            imap_plaintext_ok=bool(p.allow_plaintext_login),
        )


@dataclass(frozen=True, slots=True)
class ProbeProgress:
    phase: str
    """mailbox, submit, sent, waiting, reply, done."""
    elapsed: float
    """Seconds since the probe started."""
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Hop:
    """One Received header: who handed the message to whom, how, when."""

    from_host: str
    by_host: str
    protocol: str
    queue_id: str
    date: str
    text: str


@dataclass(frozen=True, slots=True)
class AuthVerdict:
    """One ``method=result`` of an Authentication-Results header (RFC 8601)."""

    authserv_id: str
    method: str
    """spf, dkim, dmarc, arc, ..."""
    result: str
    """pass, fail, softfail, neutral, none, temperror, permerror, ..."""
    properties: str = ""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    token: str
    target: str
    sender: str
    status: ProbeStatus
    started: str
    """Wall-clock start, ISO 8601 UTC."""
    total_seconds: float
    timeout: float
    submit_seconds: float | None = None
    """The SMTP session (connect to accepted)."""
    round_trip: float | None = None
    """From the server accepting the probe to the reply showing up in the mailbox."""
    detail: str = ""
    submitted_via: str = ""
    queue_id: str = ""
    wait_mode: str = ""
    """idle or poll."""
    reply_from: str = ""
    reply_subject: str = ""
    reply_auth: tuple[AuthVerdict, ...] = ()
    """Authentication-Results headers on the reply (how this side judged the responder's mail)."""
    probe_auth: tuple[AuthVerdict, ...] = ()
    """Authentication-Results the responder echoed back (how the far side judged the probe)."""
    reply_path: tuple[Hop, ...] = ()
    """The reply's Received headers, newest first."""
    probe_path: tuple[Hop, ...] = ()
    """The probe's Received headers as the responder echoed them, newest first."""
    history_error: str = ""
    notes: tuple[str, ...] = ()
    """How the reply was read where it was not as it declared (e.g. an unknown charset read as UTF-8)."""

    @property
    def ok(self) -> bool:
        return self.status is ProbeStatus.REPLIED

    def verdict(self, method: str) -> str:
        """The responder's verdict on the probe for ``method`` (spf/dkim/dmarc), else this side's, else ""."""
        for group in (self.probe_auth, self.reply_auth):
            for v in group:
                if v.method == method:
                    return v.result
        return ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = str(self.status)
        d["ok"] = self.ok
        d["spf"], d["dkim"], d["dmarc"] = self.verdict("spf"), self.verdict("dkim"), self.verdict("dmarc")
        return d


# --------------------------------------------------------------------------- header parsing


def _unfold(value: str) -> str:
    return " ".join(str(value).split())


def parse_received(value: str) -> Hop:
    text = _unfold(value)
    clauses, _, date = text.rpartition(";")
    if not clauses:
        clauses, date = text, ""
    bare = re.sub(r"\([^()]*\)", " ", clauses)

    def word(key: str) -> str:
        m = re.search(rf"(?:^|\s){key}\s+(\S+)", bare, re.I)
        return m.group(1).rstrip(";") if m else ""

    return Hop(word("from"), word("by"), word("with"), word("id"), date.strip(), text)


def parse_authentication_results(value: str) -> tuple[AuthVerdict, ...]:
    """``authserv-id; spf=pass smtp.mailfrom=...; dkim=pass header.d=...; dmarc=pass`` -> verdicts."""
    text = _unfold(value)
    # drop comments (RFC 5322 CFWS), including one level of nesting
    for _ in range(2):
        text = re.sub(r"\([^()]*\)", " ", text)
    parts = [p.strip() for p in text.split(";")]
    if not parts or not parts[0]:
        return ()
    authserv = parts[0].split()[0]
    out = []
    for part in parts[1:]:
        m = re.match(r"([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z0-9_-]+)\s*(.*)$", part)
        if m:
            out.append(AuthVerdict(authserv, m.group(1).lower(), m.group(2).lower(), _unfold(m.group(3))))
    return tuple(out)


def headers_in_text(text: str) -> list[tuple[str, str]]:
    """Header-like logical lines (``Name: value`` plus continuation lines) found anywhere in ``text``.

    Responders echo the probe's headers in the body of their reply; this finds them without relying
    on one responder's layout.
    """
    out: list[tuple[str, str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if current is not None and line[:1] in (" ", "\t") and line.strip():
            current[1] += " " + line.strip()
            continue
        m = re.match(r"([A-Za-z][A-Za-z0-9-]*):\s?(.*)$", line)
        if m:
            current = [m.group(1), m.group(2)]
            out.append(current)  # type: ignore[arg-type]
        else:
            current = None
    return [(k, v) for k, v in out]


def _decode(payload: bytes, charset: str, ctype: str, notes: list[str]) -> str:
    """``payload`` in its declared charset; a charset Python does not know (the sender's word, remote input)
    is read as UTF-8 with replacement characters, and ``notes`` says so."""
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        notes.append(f"a {ctype} part declares an unknown charset {charset!r}: read as UTF-8 (with replacement)")
        return payload.decode("utf-8", "replace")


def _body_text(msg: email.message.Message, notes: list[str] | None = None) -> str:
    """The readable text of ``msg`` (text parts, echoed headers, delivery status). Never raises for what
    the message declares; anything read in a way other than declared is added to ``notes``."""
    notes = [] if notes is None else notes
    parts = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("text/plain", "text/rfc822-headers", "message/rfc822-headers") or (
            ctype.startswith("message/") and not part.is_multipart()
        ):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(_decode(payload, part.get_content_charset() or "utf-8", ctype, notes))
        if ctype == "message/delivery-status":
            for block in part.get_payload():
                if isinstance(block, email.message.Message):
                    parts.append("".join(f"{k}: {v}\n" for k, v in block.items()))
        if ctype == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, email.message.Message):
                parts.append("".join(f"{k}: {v}\n" for k, v in inner.items()))
    return "\n".join(parts)


def is_bounce(msg: email.message.Message) -> bool:
    ctype = msg.get_content_type()
    report = msg.get_param("report-type") or ""
    sender = (msg.get("From") or "").lower()
    return (ctype == "multipart/report" and str(report).lower() == "delivery-status") or "mailer-daemon" in sender


@dataclass(frozen=True, slots=True)
class _Reply:
    raw: bytes
    seen_at: float


def analyse_reply(raw: bytes) -> dict[str, Any]:
    """What a reply says: who, subject, Authentication-Results and Received paths (reply and echoed probe)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    reply_auth: list[AuthVerdict] = []
    for v in msg.get_all("Authentication-Results") or []:
        reply_auth.extend(parse_authentication_results(str(v)))
    reply_path = tuple(parse_received(str(v)) for v in msg.get_all("Received") or [])
    notes: list[str] = []
    echoed = headers_in_text(_body_text(msg, notes))
    probe_auth: list[AuthVerdict] = []
    probe_path = []
    diagnostic_code = status_code = ""
    for name, value in echoed:
        low = name.lower()
        if low == "diagnostic-code" and not diagnostic_code:
            diagnostic_code = _unfold(value)
        elif low == "status" and not status_code and re.fullmatch(r"\s*[245]\.\d+\.\d+\s*", value):
            status_code = value.strip()
        if low == "authentication-results":
            probe_auth.extend(parse_authentication_results(value))
        elif low == "received":
            probe_path.append(parse_received(value))
    return {
        "bounce": is_bounce(msg),
        "diagnostic": diagnostic_code or status_code,
        "reply_from": _unfold(msg.get("From", "")),
        "reply_subject": _unfold(msg.get("Subject", "")),
        "reply_auth": tuple(reply_auth),
        "probe_auth": tuple(probe_auth),
        "reply_path": reply_path,
        "probe_path": tuple(probe_path),
        "notes": tuple(notes),
    }


# --------------------------------------------------------------------------- the probe message


def new_token() -> str:
    return "mt" + secrets.token_hex(8)


def plus_address(base: str, token: str) -> str:
    local, _, domain = base.rpartition("@")
    local = local.split("+", 1)[0]
    return f"{local}+{token}@{domain}"


def build_probe(settings: ProbeSettings, token: str, sender: str) -> email.message.EmailMessage:
    msg = email.message.EmailMessage()
    domain = sender.rpartition("@")[2]
    msg["From"] = sender
    msg["To"] = settings.target
    msg["Subject"] = f"mailtop probe {token}"
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = f"<{token}@{domain}>"
    msg[TOKEN_HEADER] = token
    msg.set_content(
        "This is an automated delivery test sent by mailtop (a mail server dashboard).\n"
        f"Token: {token}\nPlease reply with the headers you received.\n"
    )
    return msg


# --------------------------------------------------------------------------- mailbox side (blocking, in a thread)


_MAILBOX_ERRORS = (OSError, EOFError, imaplib.IMAP4.error, ValueError)


class InsecureRefused(ValueError):
    """The probe will not send the mailbox password in clear text (no TLS offered)."""


class _Mailbox:
    def __init__(self, settings: ProbeSettings, password: str, deadline: float) -> None:
        from imapclient import IMAPClient

        s = settings
        ctx = tls_context(s.imap_insecure)
        timeout = max(0.5, deadline - time.monotonic())
        self.client = IMAPClient(s.imap_host, port=s.imap_port, ssl=s.imap_implicit_tls, ssl_context=ctx,
                                 timeout=timeout)
        try:
            if not s.imap_implicit_tls:
                if self.client.has_capability("STARTTLS"):
                    self.client.starttls(ctx)
                elif not s.imap_plaintext_ok:
                    raise InsecureRefused(
                        f"the IMAP server {s.imap_host}:{s.imap_port} offers no STARTTLS (and [imap] tls_port is 0):"
                        " refusing to send the probe mailbox's password in clear text (set [imap] tls_port, or"
                        " [probe] allow_plaintext_login = true to accept it)")
            self.client.login(s.mailbox_user, password)
            info = self.client.select_folder("INBOX", readonly=True)
            self.uidnext = int(info.get(b"UIDNEXT", 1))
            self.idle_ok = s.idle and self.client.has_capability("IDLE")
        except BaseException:
            self.close()
            raise
        self.checked: set[int] = set()

    def scan(self, token: str) -> bytes | None:
        uids = [u for u in self.client.search(["UID", f"{self.uidnext}:*"]) if u >= self.uidnext]
        new = [u for u in uids if u not in self.checked]
        if not new:
            return None
        sizes = self.client.fetch(new, ["RFC822.SIZE"])
        small = [u for u in new if sizes.get(u, {}).get(b"RFC822.SIZE", 0) <= 2 * 1024 * 1024]
        self.checked.update(new)
        if not small:
            return None
        data = self.client.fetch(small, ["BODY.PEEK[]"])
        needle = token.encode()
        for uid in sorted(small):
            raw = data.get(uid, {}).get(b"BODY[]", b"")
            if needle in raw:
                return raw
        return None

    def close(self) -> None:
        try:
            self.client.socket().settimeout(2.0)  # a server that stops answering must not hold the result
            self.client.logout()
        except _MAILBOX_ERRORS:
            # the connection is already broken (that is what the probe result reports); drop it
            try:
                self.client.shutdown()
            except OSError:
                return

    def wait(self, token: str, deadline: float, cancel: threading.Event, poll: float) -> _Reply | None:
        """Blocking; returns the reply, or None at the deadline or when ``cancel`` is set. When it ends
        because of ``cancel`` (the probe's task was cancelled), it closes the mailbox itself, so that no
        other thread uses the connection at the same time."""
        try:
            return self._wait(token, deadline, cancel, poll)
        finally:
            if cancel.is_set():
                self.close()

    def _wait(self, token: str, deadline: float, cancel: threading.Event, poll: float) -> _Reply | None:
        while not cancel.is_set():
            raw = self.scan(token)
            if raw is not None:
                return _Reply(raw, time.monotonic())
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            chunk = min(remaining, 2.0)
            self.client.socket().settimeout(chunk + 5)
            if self.idle_ok:
                self.client.idle()
                self.client.idle_check(timeout=chunk)
                self.client.idle_done()
            else:
                time.sleep(min(poll, chunk))
                self.client.noop()
        return None


# --------------------------------------------------------------------------- the probe


def _queue_id(response: str) -> str:
    m = re.search(r"queued as ([A-Za-z0-9]+)", response)
    return m.group(1) if m else ""


async def _send(settings: ProbeSettings, password: str, msg: email.message.EmailMessage, sender: str,
                timeout: float) -> tuple[str, str]:
    """Submit the probe; returns (how it was sent, the server's final response). Raises on failure."""
    import aiosmtplib

    s = settings
    ctx = tls_context(s.smtp_insecure)
    smtp = aiosmtplib.SMTP(hostname=s.submit_host, port=s.submit_port, local_hostname=s.helo_name,
                           timeout=timeout, start_tls=False, validate_certs=not s.smtp_insecure, tls_context=ctx)
    await smtp.connect()
    how = [f"{s.submit_host}:{s.submit_port}", s.submit_mode]
    try:
        await smtp.ehlo()
        if smtp.supports_extension("starttls"):
            await smtp.starttls(tls_context=ctx, validate_certs=not s.smtp_insecure)
            how.append("STARTTLS")
        elif s.submit_mode == "submission":
            raise InsecureRefused("the submission server does not offer STARTTLS; refusing to send a password in clear")
        if s.submit_mode == "submission":
            await smtp.login(s.submit_user, password)
            how.append("AUTH")
        _errors, response = await smtp.send_message(msg, sender=sender, recipients=[s.target])
    finally:
        if smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()
    return " ".join(how), response


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _describe(exc: BaseException) -> str:
    """One line saying why a probe could not send or read its mailbox."""
    import aiosmtplib

    from mailtop.health.access import classify

    if isinstance(exc, InsecureRefused):
        return str(exc)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return f"authentication failed: {exc.code} {exc.message}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the server said {exc.code} {exc.message}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return "recipient refused: " + "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    root = exc
    while root.__cause__ is not None and isinstance(root, aiosmtplib.SMTPException):
        root = root.__cause__
    verdict, why = classify(root, auth_step=isinstance(root, imaplib.IMAP4.error) and "login" in type(root).__name__.lower())
    if verdict.value in ("timeout", "refused", "TLS failure", "unreachable", "authentication failed"):
        return f"{verdict}: {why}"
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


async def run_probe(
    settings: ProbeSettings,
    password: str,
    progress: Callable[[ProbeProgress], None] | None = None,
    *,
    token: str | None = None,
    record: bool = True,
) -> ProbeResult:
    """Run one probe (see the module docstring). Never raises for network trouble: the result says it."""
    import aiosmtplib

    t0 = time.monotonic()
    deadline = t0 + settings.timeout
    started = _now_iso()
    token = token or new_token()
    sender = plus_address(settings.sender, token)
    cancel = threading.Event()

    def report(phase: str, detail: str = "") -> None:
        # only ever called on the event loop's thread (the mailbox thread reports nothing)
        if progress is not None:
            progress(ProbeProgress(phase, time.monotonic() - t0, detail))

    def finish(status: ProbeStatus, detail: str = "", **kw: Any) -> ProbeResult:
        result = ProbeResult(token=token, target=settings.target, sender=sender, status=status, started=started,
                             total_seconds=time.monotonic() - t0, timeout=settings.timeout,
                             detail=detail.replace(password, "***") if password else detail, **kw)
        if record and settings.state_dir is not None:
            try:
                append_history(settings.state_dir, result)
            except OSError as exc:
                from dataclasses import replace

                result = replace(result, history_error=f"could not write the probe history: {exc}")
        report("done", str(status))
        return result

    report("mailbox", f"{settings.mailbox_user}@{settings.imap_host}:{settings.imap_port}")
    try:
        mailbox = await asyncio.to_thread(_Mailbox, settings, password, deadline)
    except _MAILBOX_ERRORS as exc:
        return finish(ProbeStatus.MAILBOX_FAILED, f"probe mailbox {settings.mailbox_user}: {_describe(exc)}")
    waiting = False
    try:
        report("submit", f"{settings.submit_host}:{settings.submit_port}")
        msg = build_probe(settings, token, sender)
        t_send = time.monotonic()
        try:
            how, response = await asyncio.wait_for(
                _send(settings, password, msg, sender, max(0.5, deadline - t_send)),
                timeout=max(0.5, deadline - t_send),
            )
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ValueError) as exc:
            return finish(ProbeStatus.SEND_FAILED, _describe(exc), submit_seconds=time.monotonic() - t_send)
        t_accepted = time.monotonic()
        submit = t_accepted - t_send
        qid = _queue_id(response)
        mode = "idle" if mailbox.idle_ok else "poll"
        report("sent", f"accepted{' as ' + qid if qid else ''} in {submit * 1000:.0f} ms; waiting ({mode})")

        async def ticker() -> None:
            while True:
                await asyncio.sleep(1.0)
                report("waiting", f"{time.monotonic() - t_accepted:.0f} s")

        tick = asyncio.create_task(ticker())
        try:
            waiting = True
            reply = await asyncio.to_thread(mailbox.wait, token, deadline, cancel, settings.poll_interval)
            waiting = False
        except _MAILBOX_ERRORS as exc:
            waiting = False
            return finish(ProbeStatus.MAILBOX_FAILED, f"while waiting for the reply: {_describe(exc)}",
                          submit_seconds=submit, submitted_via=how, queue_id=qid, wait_mode=mode)
        finally:
            cancel.set()
            tick.cancel()
        common = dict(submit_seconds=submit, submitted_via=how, queue_id=qid, wait_mode=mode)
        if reply is None:
            return finish(ProbeStatus.TIMEOUT,
                          f"no reply from {settings.target} within {settings.timeout:g} s", **common)
        info = analyse_reply(reply.raw)
        bounced = info.pop("bounce")
        diagnostic = info.pop("diagnostic")
        report("reply", info["reply_from"])
        detail = ""
        if bounced:
            detail = diagnostic or "a delivery status notification came back"
        return finish(ProbeStatus.BOUNCED if bounced else ProbeStatus.REPLIED, detail,
                      round_trip=reply.seen_at - t_accepted,
                      **common, **info)
    finally:
        if waiting:  # cancelled while the mailbox thread waits: it closes the mailbox when it sees this
            cancel.set()
        else:
            await asyncio.to_thread(mailbox.close)


def run_probe_sync(settings: ProbeSettings, password: str,
                   progress: Callable[[ProbeProgress], None] | None = None, **kw: Any) -> ProbeResult:
    """:func:`run_probe` for a worker thread (its own event loop); ``progress`` runs on that thread."""
    return asyncio.run(run_probe(settings, password, progress, **kw))


# --------------------------------------------------------------------------- history


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    time: str
    target: str
    token: str
    status: str
    round_trip: float | None
    submit_seconds: float | None
    total_seconds: float


def history_path(state_dir: Path) -> Path:
    return Path(state_dir).expanduser() / HISTORY_FILE


def append_history(state_dir: Path, result: ProbeResult) -> Path:
    """Append one JSON line (one write, O_APPEND) to ``<state_dir>/probe-history.jsonl``."""
    path = history_path(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = HistoryEntry(result.started, result.target, result.token, str(result.status),
                         None if result.round_trip is None else round(result.round_trip, 4),
                         None if result.submit_seconds is None else round(result.submit_seconds, 4),
                         round(result.total_seconds, 4))
    line = (json.dumps(asdict(entry), separators=(",", ":")) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path


def read_history(state_dir: Path, limit: int = 100, target: str | None = None) -> tuple[HistoryEntry, ...]:
    """The last ``limit`` probes (oldest first); lines that are not valid entries are skipped."""
    path = history_path(state_dir)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return ()
    out = []
    for line in lines:
        try:
            d = json.loads(line)
            entry = HistoryEntry(**d)
        except (ValueError, TypeError):
            continue
        if target is None or entry.target == target:
            out.append(entry)
    return tuple(out[-limit:]) if limit > 0 else tuple(out)


# --------------------------------------------------------------------------- check


async def probe_findings(cfg: Any) -> list:
    """One finding ``probe.<target>`` for the check registry: OK when the reply came back, CRITICAL when
    it did not (timeout, bounce, send or mailbox failure), UNKNOWN when the probe is not configured.

    It takes up to ``[probe] timeout`` seconds: give its check a timeout above that and a long refresh.
    """
    from mailtop.health.access import PasswordError, configured_password
    from mailtop.model import Finding, Metric, Status

    try:
        settings = ProbeSettings.from_config(cfg)
        password = configured_password(cfg)
    except (ValueError, PasswordError) as exc:
        return [Finding("probe", Status.UNKNOWN, "autoresponder probe not run", details=str(exc),
                        hint="set [probe] target, sender, mailbox_user and password_file")]
    r = await run_probe(settings, password)
    fid = f"probe.{settings.target}"
    metrics: tuple[Metric, ...] = ()
    if r.round_trip is not None:
        metrics = (Metric("round_trip", round(r.round_trip, 4), "s", min=0, max=settings.timeout),)
    if r.ok:
        verdicts = " ".join(f"{m}={r.verdict(m)}" for m in ("spf", "dkim", "dmarc") if r.verdict(m))
        return [Finding(fid, Status.OK, f"reply from {r.target} in {r.round_trip:.2f} s",
                        details="\n".join([verdicts, *r.notes]).strip(), metrics=metrics, data=r.to_dict())]
    hint = {
        ProbeStatus.TIMEOUT: "look for the probe's queue ID in the mail log (mailtop trace) and in the queue",
        ProbeStatus.BOUNCED: "the target address does not accept mail: see the detail",
        ProbeStatus.SEND_FAILED: "the submission server refused or did not answer",
        ProbeStatus.MAILBOX_FAILED: "mailtop could not read the probe mailbox over IMAP",
    }.get(r.status, "")
    detail = "\n".join([r.detail + (f" (queue ID {r.queue_id})" if r.queue_id else ""), *r.notes])
    return [Finding(fid, Status.CRITICAL, f"probe to {r.target}: {r.status}", details=detail, hint=hint,
                    metrics=metrics, data=r.to_dict())]
