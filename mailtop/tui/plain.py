"""Display-safe plain text, with no Textual and no Rich: shared by the panels and the collector worker.

``clean`` makes untrusted text (log lines, mail headers, addresses, server replies) safe to show:
terminal escape sequences (CSI, OSC, DCS, ...) are removed, any other control character is shown as
a visible ``\\xNN`` and Unicode bidirectional overrides are neutralised. ``status_style`` picks the
display colour of a log line. The worker process (:mod:`mailtop.tui.worker`) prepares rows with these,
so it never imports the UI.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_SEQUENCE = re.compile(
    r"""
      \x1b\[[0-?]*[ -/]*[@-~]?                 # CSI ... final byte (ESC [)
    | \x9b[0-?]*[ -/]*[@-~]?                   # 8-bit CSI
    | \x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?   # OSC ... BEL / ST  (titles, hyperlinks)
    | \x9d[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?     # 8-bit OSC
    | \x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?   # DCS, SOS, PM, APC ... ST
    | [\x90\x98\x9e\x9f][^\x1b\x9c]*(?:\x1b\\|\x9c)?
    | \x1b[ -/]*[0-~]?                         # any other ESC sequence (charset, keypad, RIS ...)
    """,
    re.VERBOSE,
)
# C0 controls except TAB, DEL, C1 controls, and the bidi embedding/override/isolate characters.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(value: object) -> str:
    """``value`` as one display-safe line: escape sequences removed, other controls made visible."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # fast path: the overwhelming majority of log lines
        return text
    text = _SEQUENCE.sub("", text)
    text = text.replace("\t", "    ")
    return _CONTROL.sub(_visible, text)


# Display colouring only (which words to highlight); classifying deliveries is the parser's job.
_STATUS_STYLES = [
    (re.compile(r"status=sent|\bsaved mail to\b|\bstored mail into mailbox\b"), "green"),
    (re.compile(r"status=deferred|\bwarning:"), "yellow"),
    (re.compile(r"status=bounced|status=expired|\breject:|\bNOQUEUE\b|\b(?:fatal|panic|error):|auth failed|"
                r"authentication failed"), "red"),
]


def status_style(plain: str) -> str:
    for pattern, style in _STATUS_STYLES:
        if pattern.search(plain):
            return style
    return ""


def age_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class ShownLine(NamedTuple):
    """A log line as the Log panel shows it, prepared off the UI thread (the collector worker)."""

    plain: str
    """Display-safe text (:func:`clean`)."""
    style: str
    """Colour by delivery status (:func:`status_style`)."""
    queue_id: str = ""
    """The parser's queue ID, for tracing ("" when the line has none)."""


def shown_line(event: object) -> ShownLine:
    """A parsed log event (anything with ``line``/``raw``, or a string) as a :class:`ShownLine`."""
    if isinstance(event, str):
        text = event
    else:
        text = next((v for v in (getattr(event, a, None) for a in ("raw", "line", "text")) if isinstance(v, str)),
                    str(event))
    plain = clean(text).rstrip("\n")
    return ShownLine(plain, status_style(plain), getattr(event, "queue_id", "") or "")
