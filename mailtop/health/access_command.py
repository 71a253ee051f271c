"""``mailtop login imap|imaps|pop3|pop3s``: a POP3/IMAP login test, step by step, timed.

The password is never an argument: ``--password-env VAR``, ``--password-file FILE``, or a prompt
(getpass). Without ``--user``, the probe mailbox (``[probe] mailbox_user``) is used, with the probe's
password source. Exit status: 0 every step OK, 1 a step failed, 2 bad usage or no password.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

    from mailtop.config import Config
    from mailtop.health.access import LoginResult


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("protocol", choices=("imap", "imaps", "pop3", "pop3s"), help="what to log in to")
    parser.add_argument("--host", help="server (default: [imap] / [pop3] host)")
    parser.add_argument("--port", type=int, help="port (default: [imap] / [pop3] port or tls_port)")
    parser.add_argument("--user", help="user name (default: [probe] mailbox_user)")
    pw = parser.add_mutually_exclusive_group()
    pw.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    pw.add_argument("--password-file", metavar="FILE", type=Path, help="read the password from the first line")
    parser.add_argument("--starttls", action="store_true", help="upgrade with STARTTLS (IMAP) or STLS (POP3)")
    parser.add_argument("--insecure", action="store_true",
                        help="accept any certificate, e.g. self-signed (also [imap]/[pop3] allow_self_signed)")
    parser.add_argument("--source", metavar="ADDR", default="", help="local address to connect from")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="budget for the whole session in seconds (default: [general] timeout)")


def resolve_password(
    *,
    env_var: str | None,
    file: Path | None,
    environ: dict[str, str] | os._Environ,
    prompt: str,
    fallback_env: str = "",
    fallback_file: Path | None = None,
    warn: TextIO | None = None,
) -> str:
    """The password from an explicit env var or file, else the fallbacks (file first), else a prompt.

    Raises :class:`mailtop.health.access.PasswordError`.
    """
    from mailtop.health.access import PasswordError, read_password_file

    if env_var:
        value = environ.get(env_var, "")
        if not value:
            raise PasswordError(f"environment variable {env_var} is not set or empty")
        return value
    if file is not None:
        return read_password_file(file, warn)
    if fallback_file is not None:
        return read_password_file(fallback_file, warn)
    if fallback_env and environ.get(fallback_env):
        return environ[fallback_env]
    import getpass

    try:
        value = getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        raise PasswordError("no password given") from None
    if not value:
        raise PasswordError("no password given")
    return value


def print_result(result: Any, as_json: bool, render: Callable[[Any, TextIO], None]) -> int:
    """Print a result record (``to_dict()`` as JSON, or ``render`` as text); exit status 0 if ``result.ok``, else 1."""
    if as_json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        print()
    else:
        render(result, sys.stdout)
    return 0 if result.ok else 1


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def render_text(result: LoginResult, out: TextIO) -> None:
    """The result for a terminal. What the server sent (replies, certificate names) goes through
    :func:`mailtop.model.clean`: escape sequences and bidi controls are shown, never obeyed."""
    from mailtop.health.access import Verdict
    from mailtop.model import clean

    print(clean(result.spec.label), file=out)
    width = max(len(s.name) for s in result.steps) if result.steps else 8
    for s in result.steps:
        timing = _ms(s.seconds) if s.verdict is not Verdict.SKIPPED else " " * 11
        print(f"  {s.name:<{width}}  {str(s.verdict):<22} {timing}  {clean(s.detail)}".rstrip(), file=out)
    c = result.cert
    if c is not None:
        trust = "verified" if c.verified else "NOT verified (insecure / allow_self_signed)"
        print(f"certificate: subject {clean(c.subject)}", file=out)
        print(f"             issuer  {clean(c.issuer)}{'  (self-signed)' if c.self_signed else ''}", file=out)
        print(f"             expires {clean(c.not_after)} ({c.days_left:.0f} days left), {trust}", file=out)
        if c.names:
            print(f"             names   {', '.join(clean(n) for n in c.names)}", file=out)
        print(f"             {clean(c.tls_version)} {clean(c.cipher)}", file=out)
    elif result.encrypted is False and result.ok:
        print("note: the password went over the network in clear text (no TLS)", file=out)
    extra = ""
    if result.messages is not None:
        extra = f", {result.messages} message(s) in INBOX"
        if result.octets is not None:
            extra += f" ({result.octets} octets)"
    if result.ok:
        print(f"result: OK in {result.seconds * 1000:.1f} ms{extra}", file=out)
    else:
        failed = result.failed_step
        where = f" at {failed.name}" if failed else ""
        print(f"result: FAILED{where}: {result.verdict} after {result.seconds * 1000:.1f} ms", file=out)


def run(args: argparse.Namespace, cfg: Config) -> int:
    from mailtop.health.access import LoginSpec, PasswordError, check_login

    family = cfg.imap if args.protocol.startswith("imap") else cfg.pop3
    implicit = args.protocol.endswith("s")
    host = args.host or family.host
    port = args.port or (family.tls_port if implicit else family.port)
    user = args.user or cfg.probe.mailbox_user
    if not user:
        print("mailtop login: no user: give --user (or set [probe] mailbox_user)", file=sys.stderr)
        return 2
    timeout = args.timeout if args.timeout is not None else cfg.general.timeout
    try:
        spec = LoginSpec(args.protocol, host, int(port), user, args.starttls,
                         args.insecure or family.allow_self_signed, timeout, args.source)
    except ValueError as exc:
        print(f"mailtop login: {exc}", file=sys.stderr)
        return 2
    use_probe_secret = not args.user or args.user == cfg.probe.mailbox_user
    try:
        password = resolve_password(
            env_var=args.password_env,
            file=args.password_file,
            environ=os.environ,
            prompt=f"password for {user} at {host}:{port}: ",
            fallback_env=cfg.probe.password_env if use_probe_secret else "",
            fallback_file=cfg.probe.password_file if use_probe_secret else None,
            warn=sys.stderr,
        )
    except PasswordError as exc:
        print(f"mailtop login: {exc}", file=sys.stderr)
        return 2
    result = check_login(spec, password)
    del password
    return print_result(result, args.json, render_text)


def __getattr__(name: str):
    # PasswordError and read_password_file moved to mailtop.health.access (the core); re-exported here,
    # lazily, for callers that import them from this module.
    if name in ("PasswordError", "read_password_file"):
        from mailtop.health import access

        return getattr(access, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
