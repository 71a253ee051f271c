"""Literal rendering of untrusted text (log lines, mail headers, addresses, server replies).

Text that came from the mail system is *data*: it is never parsed as Rich/Textual markup and its
terminal control sequences never reach the terminal. ``clean`` removes ANSI escape sequences (CSI,
OSC, DCS, ...), shows any other control character as a visible ``\\xNN`` and neutralises Unicode
bidirectional overrides (which could reorder what the operator reads). ``literal`` wraps the result
in a Rich ``Text`` (``Text(...)`` never interprets ``[bold]`` or ``[link=...]``).
"""

from __future__ import annotations

import re

from rich.text import Text

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


def literal(value: object, style: str = "") -> Text:
    """A Rich ``Text`` holding ``value`` literally (no markup, no control sequences)."""
    return Text(clean(value), style=style, no_wrap=False)
