"""Literal rendering of untrusted text (log lines, mail headers, addresses, server replies).

Text that came from the mail system is *data*: it is never parsed as Rich/Textual markup and its
terminal control sequences never reach the terminal. ``clean`` removes ANSI escape sequences (CSI,
OSC, DCS, ...), shows any other control character as a visible ``\\xNN`` and neutralises Unicode
bidirectional overrides (which could reorder what the operator reads). ``literal`` wraps the result
in a Rich ``Text`` (``Text(...)`` never interprets ``[bold]`` or ``[link=...]``).
"""

from __future__ import annotations

from rich.text import Text

from mailtop.tui.plain import clean

__all__ = ["clean", "literal"]


def literal(value: object, style: str = "") -> Text:
    """A Rich ``Text`` holding ``value`` literally (no markup, no control sequences)."""
    return Text(clean(value), style=style, no_wrap=False)
