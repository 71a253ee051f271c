#!/usr/bin/python3
"""The lab's echo autoresponder (echo@lab.test), run by Postfix's local(8) from the aliases file.

Like the public check-auth responders, it replies to the envelope sender with the headers of the
message it received (as they arrived, Received lines included) in the body of the reply. It never
loops: the reply has a null envelope sender (MAIL FROM:<>) and `Auto-Submitted: auto-replied`, and it
does not answer a null sender, MAILER-DAEMON, or a message that is itself auto-submitted or bulk.

Postfix runs it as `nobody` with SENDER and RECIPIENT in the environment. Standard library only.
Exit 75 (EX_TEMPFAIL) asks Postfix to try again later; 0 means handled (replied or ignored on purpose).
"""

import argparse
import email
import email.policy
import email.utils
import os
import smtplib
import sys

EX_TEMPFAIL = 75
EX_UNAVAILABLE = 69


def _unfold(value) -> str:
    return " ".join(str(value).split())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smtp", default="127.0.0.1:25", help="where to submit the reply (host:port)")
    ap.add_argument("--address", default="echo@lab.test", help="the responder's own address")
    args = ap.parse_args()
    raw = sys.stdin.buffer.read()
    if raw.startswith(b"From "):  # the mbox-style line local(8) prepends
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    sender = os.environ.get("SENDER", "")
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    auto = (msg.get("Auto-Submitted") or "no").strip().lower()
    precedence = (msg.get("Precedence") or "").strip().lower()
    if not sender or sender.lower().startswith("mailer-daemon") or auto != "no" or precedence in (
        "bulk", "list", "junk"
    ):
        return 0
    header_block = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    # Header values read with compat32 keep their folding (CR/LF): unfold before reusing them.
    subject = _unfold(msg.get("Subject", ""))
    message_id = _unfold(msg.get("Message-ID", ""))
    reply = email.message.EmailMessage()
    reply["From"] = f"Lab echo responder <{args.address}>"
    reply["To"] = sender
    reply["Subject"] = f"Re: {subject}" if subject else "Echo"
    reply["Date"] = email.utils.formatdate(localtime=False)
    reply["Message-ID"] = email.utils.make_msgid(domain=args.address.split("@")[-1])
    reply["Auto-Submitted"] = "auto-replied"
    if message_id:
        reply["In-Reply-To"] = message_id
        reply["References"] = message_id
    text = (
        "This is the mailtop lab's echo responder. The message you sent arrived with these headers:\n\n"
        + header_block.replace("\r\n", "\n")
        + "\n"
    )
    try:
        reply.set_content(text, cte="8bit")  # readable as it is, like the public responders' replies
    except ValueError:  # a line too long for 8bit
        reply.set_content(text)
    host, _, port = args.smtp.rpartition(":")
    try:
        with smtplib.SMTP(host, int(port), local_hostname="echo.lab.test", timeout=20) as s:
            s.send_message(reply, from_addr="", to_addrs=[sender])
    except smtplib.SMTPRecipientsRefused as exc:
        # permanent: retrying cannot help; Postfix bounces the original with this text
        print(f"echo-responder: the reply was refused: {exc}", file=sys.stderr)
        return EX_UNAVAILABLE
    except (OSError, smtplib.SMTPException) as exc:
        print(f"echo-responder: could not send the reply: {exc}", file=sys.stderr)
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
