"""TLS on the mail ports: STARTTLS on SMTP and submission, implicit TLS on SMTPS (465), IMAPS and POP3S.

For each endpoint :func:`inspect_tls` returns a :class:`TlsState`: the handshake (protocol, cipher), whether
the chain is trusted by the system store (and if not, OpenSSL's reason), and the certificate's names and
validity read from its DER encoding (:func:`mailtop.health.x509.parse_certificate`, a small reader of the
X.509 fields we need, so no extra dependency). :func:`tls_finding` judges it:

- no connection, no STARTTLS offered, handshake failure: CRITICAL;
- certificate expired or under ``thresholds.cert_crit_days`` days: CRITICAL; under ``cert_warn_days``: WARNING;
- name mismatch against ``tls_name`` (default: the configured host): CRITICAL, except on port 25 (``smtp``)
  where sending MTAs rarely check names: WARNING;
- chain not trusted: CRITICAL, unless the certificate is self-signed and the section's
  ``allow_self_signed`` is true (then OK, and the details say so);
- a protocol older than TLS 1.2: WARNING.

Each endpoint is one connection when the chain verifies, two when it does not (the second, unverified,
reads the certificate). Every step runs under ``general.timeout``.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import functools
import ipaddress
import os
import ssl
import time
from dataclasses import dataclass, field

from mailtop.config import Config
from mailtop.health.x509 import Certificate, DerError, parse_certificate
from mailtop.model import Finding, Metric, Status

# --------------------------------------------------------------------------- certificates (DER)

CertInfo = Certificate
"""What the check reads from a certificate (:class:`mailtop.health.x509.Certificate`)."""
CertificateError = DerError
"""The bytes are not an X.509 certificate we can read."""


def name_matches(cert: CertInfo, name: str) -> bool:
    """RFC 6125: an IP must be an IP SAN; a host name matches a DNS SAN (one left-most ``*`` label allowed);
    the subject CN counts only when the certificate has no SAN at all."""
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        addr = None
    if addr is not None:
        return any(ipaddress.ip_address(ip) == addr for ip in cert.ip_addresses)
    candidates = list(cert.dns_names)
    if not cert.dns_names and not cert.ip_addresses and cert.subject_cn:
        candidates = [cert.subject_cn]
    want = name.rstrip(".").lower()
    for pattern in candidates:
        p = pattern.rstrip(".").lower()
        if p == want:
            return True
        if p.startswith("*.") and "." in want:
            if want.split(".", 1)[1] == p[2:] and want.split(".", 1)[0]:
                return True
    return False


# --------------------------------------------------------------------------- the handshake


@dataclass(frozen=True, slots=True)
class TlsState:
    service: str
    host: str
    port: int
    name: str
    """Name the certificate must match."""
    phase: str
    """Where it stopped: connect, greeting, ehlo, starttls, handshake, done."""
    error: str = ""
    protocol: str = ""
    cipher: str = ""
    trusted: bool | None = None
    verify_error: str = ""
    verify_code: int = 0
    cert: CertInfo | None = None
    seconds: float = 0.0
    timeout: float = 0.0
    extensions: tuple[str, ...] = field(default=())


STARTTLS_SERVICES = {"smtp", "submission"}


@functools.lru_cache(maxsize=1)
def _verifying_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False  # names are checked by name_matches, for trusted and self-signed alike
    return ctx


class _Failed(Exception):
    def __init__(self, phase: str, message: str) -> None:
        super().__init__(message)
        self.phase = phase


async def _handshake(service: str, host: str, port: int, name: str, helo: str, ctx: ssl.SSLContext,
                     timeout: float, progress: list[str]) -> tuple[bytes | None, str, str, tuple[str, ...]]:
    """Connect, do STARTTLS or implicit TLS; return (DER certificate, protocol, cipher, EHLO keywords)."""
    from mailtop.health.system import close_writer, read_reply

    sni = None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        sni = name
    progress[0] = "connect"
    writer = None
    try:
        if service in STARTTLS_SERVICES:
            reader, writer = await asyncio.open_connection(host, port)
            progress[0] = "greeting"
            greet = await read_reply(reader, "smtp")
            if not greet[-1].startswith("220"):
                raise _Failed("greeting", f"greeting {greet[-1][:80]!r}")
            progress[0] = "ehlo"
            writer.write(f"EHLO {helo}\r\n".encode())
            ehlo = await read_reply(reader, "smtp")
            if not ehlo[-1].startswith("250"):
                raise _Failed("ehlo", f"EHLO answered {ehlo[-1][:80]!r}")
            keywords = tuple(line[4:].split(" ")[0].upper() for line in ehlo[1:])
            if "STARTTLS" not in keywords:
                raise _Failed("nostarttls", "the server does not offer STARTTLS")
            progress[0] = "starttls"
            writer.write(b"STARTTLS\r\n")
            reply = await read_reply(reader, "smtp")
            if not reply[-1].startswith("220"):
                raise _Failed("starttls", f"STARTTLS answered {reply[-1][:80]!r}")
            progress[0] = "handshake"
            await writer.start_tls(ctx, server_hostname=sni, ssl_handshake_timeout=timeout)
            writer.write(b"QUIT\r\n")
        else:
            keywords = ()
            # TCP first, then TLS: so a refused port and a stuck handshake read differently
            reader, writer = await asyncio.open_connection(host, port)
            progress[0] = "handshake"
            await writer.start_tls(ctx, server_hostname=sni, ssl_handshake_timeout=timeout)
            writer.write(b"a1 LOGOUT\r\n" if service == "imaps" else b"QUIT\r\n")
        sslobj = writer.get_extra_info("ssl_object")
        if sslobj is None:
            raise _Failed("handshake", "no TLS session after the handshake")
        cipher = sslobj.cipher()
        return sslobj.getpeercert(binary_form=True), sslobj.version() or "", cipher[0] if cipher else "", keywords
    finally:
        if writer is not None:
            await close_writer(writer)


async def inspect_tls(service: str, host: str, port: int, name: str, helo: str, timeout: float) -> TlsState:
    from mailtop.health.system import insecure_context

    t0 = time.perf_counter()
    progress = ["connect"]

    def state(**kw) -> TlsState:
        return TlsState(service, host, port, name, seconds=time.perf_counter() - t0, timeout=timeout, **kw)

    trusted: bool | None = None
    verify_error = ""
    verify_code = 0
    try:
        async with asyncio.timeout(timeout):
            try:
                der, proto, cipher, kw = await _handshake(service, host, port, name, helo, _verifying_context(),
                                                          timeout, progress)
                trusted = True
            except ssl.SSLCertVerificationError as exc:
                trusted = False
                verify_error = exc.verify_message or str(exc)
                verify_code = exc.verify_code or 0
        if not trusted:
            async with asyncio.timeout(timeout):
                der, proto, cipher, kw = await _handshake(service, host, port, name, helo, insecure_context(),
                                                          timeout, progress)
    except TimeoutError:
        return state(phase=progress[0], error=f"timed out after {timeout:g} s")
    except _Failed as exc:
        return state(phase=exc.phase, error=str(exc))
    except ssl.SSLError as exc:
        return state(phase="handshake", error=f"TLS handshake failed: {exc.reason or exc}")
    except OSError as exc:
        if progress[0] != "connect" and not exc.errno:
            return state(phase=progress[0], error=str(exc))  # e.g. closed by the server after ...
        return state(phase=progress[0], error=(os.strerror(exc.errno) if exc.errno else exc.strerror) or str(exc))
    try:
        cert = parse_certificate(der) if der else None
        cert_error = "" if der else "the server sent no certificate"
    except CertificateError as exc:
        cert, cert_error = None, f"cannot read the certificate: {exc}"
    return state(phase="done", error=cert_error, protocol=proto, cipher=cipher,
                 trusted=trusted, verify_error=verify_error, verify_code=verify_code, cert=cert, extensions=kw)


# --------------------------------------------------------------------------- judging


_SELF_SIGNED_CODES = {18, 19}  # X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
_PHASE_TEXT = {
    "connect": "no connection",
    "greeting": "no SMTP greeting",
    "ehlo": "EHLO failed",
    "nostarttls": "",
    "starttls": "STARTTLS refused",
    "handshake": "TLS handshake did not complete",
}


def tls_finding(st: TlsState, allow_self_signed: bool, warn_days: float, crit_days: float,
                now: _dt.datetime | None = None) -> Finding:
    fid = f"tls.{st.service}"
    where = f"{st.service} {st.host}:{st.port}"
    data: dict = {"host": st.host, "port": st.port, "name": st.name, "phase": st.phase}
    if st.phase != "done" or st.cert is None:
        what = _PHASE_TEXT.get(st.phase, st.phase)
        hint = {
            "nostarttls": "enable STARTTLS (Postfix: smtpd_tls_security_level = may, smtpd_tls_cert_file, smtpd_tls_key_file)",
            "handshake": "check the TLS settings and certificate files of the service; read its log",
        }.get(st.phase, "check that the service runs and answers on this port")
        summary = f"{where}: {what}: {st.error}" if what else f"{where}: {st.error}"
        return Finding(fid, Status.CRITICAL, summary, details=st.error, hint=hint, data=data)
    cert = st.cert
    days = cert.days_left(now)
    problems: list[tuple[Status, str, str]] = []
    if days < 0:
        problems.append((Status.CRITICAL, f"certificate expired {-days:.0f} days ago", "renew the certificate"))
    elif days < crit_days:
        problems.append((Status.CRITICAL, f"certificate expires in {days:.1f} days", "renew the certificate now"))
    elif days < warn_days:
        problems.append((Status.WARNING, f"certificate expires in {days:.0f} days",
                         "renew the certificate (is automatic renewal working?)"))
    if not name_matches(cert, st.name):
        sev = Status.WARNING if st.service == "smtp" else Status.CRITICAL
        problems.append((sev, f"certificate does not match {st.name} (it names {', '.join(cert.names()) or 'nothing'})",
                         "install a certificate for this name, or set tls_name to the name clients use"))
    self_signed = not st.trusted and (cert.self_issued or st.verify_code in _SELF_SIGNED_CODES)
    trust_text = "trusted chain" if st.trusted else f"not trusted: {st.verify_error}"
    if st.trusted is False:
        if self_signed and allow_self_signed:
            trust_text = f"self-signed, accepted (allow_self_signed = true): {st.verify_error}"
        else:
            extra = " (self-signed; set allow_self_signed = true only for a lab or a private service)" if self_signed else ""
            problems.append((Status.CRITICAL, f"certificate not trusted: {st.verify_error}{extra}",
                             "install a certificate from a CA clients trust, with its full chain"))
    if st.protocol in ("TLSv1", "TLSv1.1", "SSLv3"):
        problems.append((Status.WARNING, f"negotiated {st.protocol}", "disable protocols older than TLS 1.2"))
    details = (
        f"{st.protocol}, {st.cipher}; {trust_text}\n"
        f"subject CN={cert.subject_cn or '-'}, issuer CN={cert.issuer_cn or '-'}, "
        f"names: {', '.join(cert.names()) or '-'}\n"
        f"valid {cert.not_before:%Y-%m-%d} to {cert.not_after:%Y-%m-%d %H:%M} UTC ({days:.0f} days left)"
    )
    data.update({"protocol": st.protocol, "cipher": st.cipher, "trusted": st.trusted, "self_signed": self_signed,
                 "not_after": cert.not_after.isoformat(), "days_left": round(days, 2), "names": cert.names()})
    metrics = (Metric(f"{fid}.cert_days", round(days, 1), "", warn=warn_days, crit=crit_days),
               Metric(f"{fid}.time", round(st.seconds, 4), "s", min=0))
    if not problems:
        return Finding(fid, Status.OK,
                       f"{where}: {st.protocol}, certificate valid {days:.0f} more days, matches {st.name}"
                       + (" (self-signed, allowed by config)" if st.trusted is False else ""),
                       details=details, metrics=metrics, data=data)
    problems.sort(key=lambda p: -p[0].severity)
    status = problems[0][0]
    return Finding(fid, status, f"{where}: " + "; ".join(p[1] for p in problems), details=details,
                   hint="; ".join(dict.fromkeys(p[2] for p in problems)), metrics=metrics, data=data)


_SECTIONS = {"smtp": "smtp", "submission": "smtp", "smtps": "smtp", "imaps": "imap", "pop3s": "pop3"}


async def tls_findings(cfg: Config, service: str) -> list[Finding]:
    from mailtop.checks import service_endpoint

    host, port = service_endpoint(cfg, service)
    sec = getattr(cfg, _SECTIONS[service])
    name = sec.tls_name or host
    st = await inspect_tls(service, host, port, name, cfg.smtp.helo_name, cfg.general.timeout)
    return [tls_finding(st, sec.allow_self_signed, cfg.thresholds.cert_warn_days, cfg.thresholds.cert_crit_days)]
