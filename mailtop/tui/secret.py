"""A password on its way to a worker thread, kept out of every repr that Textual logs.

Textual names a worker after ``repr()`` of its arguments unless it gets a fixed ``description``, and
writes that name (and, for a failing worker, a traceback) to ``TEXTUAL_LOG`` and the devtools console.
A :class:`Secret` hides its value from ``repr``/``str``, and :meth:`Secret.clear` drops the panel's
reference as soon as the core call returns. (Python cannot wipe an immutable ``str``; the point is
that nothing of ours keeps or prints it.)
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.message import Message
from textual.widgets import Input

__all__ = ["Secret", "SecretInput", "scrub", "secret_input"]


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret(<hidden>)" if self._value else "Secret(<cleared>)"

    __str__ = __repr__

    def __reduce__(self):  # never pickled with its value (e.g. into a worker process)
        raise TypeError("a Secret cannot be pickled")

    def reveal(self) -> str:
        return self._value

    def clear(self) -> None:
        self._value = ""


def scrub(text: str, secret: str) -> str:
    """``text`` with every occurrence of ``secret`` replaced (for error messages shown to the user)."""
    return text.replace(secret, "***") if secret else text


def secret_input(**kw: Any) -> Input:
    """A masked :class:`~textual.widgets.Input` whose typed characters and value stay out of Textual's log."""
    return SecretInput(password=True, **kw)


class SecretInput(Input):
    """Textual logs every message it dispatches with its repr (to ``TEXTUAL_LOG`` and devtools): each typed
    character (``Key``), pasted text (``Paste``) and the whole value (``Input.Changed``/``Submitted``/
    ``Blurred``, once per ancestor they bubble through). Here printable keys and pastes are handled without
    that log line, and the messages leave with an empty ``value``: read the field itself (then clear it)."""

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and event.is_printable:
            await self._on_key(event)  # Input's own handler: inserts the character and stops the event
            return
        if isinstance(event, events.Paste):
            self._on_paste(event)
            return
        await super().on_event(event)

    def post_message(self, message: Message) -> bool:
        if isinstance(message, (Input.Changed, Input.Submitted, Input.Blurred)):
            message.value = ""
        return super().post_message(message)
