"""Records shared by the collectors, the checks and both front ends, and :func:`clean`, the one escaping
of untrusted text (server replies, mail headers, certificates, logs) for plain-text terminal output.

Everything here is a frozen dataclass, an enum or a pure function, and imports nothing from the UI.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Status(enum.IntEnum):
    """Health status. The value is the monitoring-plugins exit code (OK 0, WARNING 1,
    CRITICAL 2, UNKNOWN 3).

    Which is worse is ``severity``: CRITICAL > UNKNOWN > WARNING > OK. A check
    that could not run (UNKNOWN) outranks a warning, because it may hide a
    critical; a known critical outranks everything.
    """

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def exit_code(self) -> int:
        return int(self)

    @property
    def severity(self) -> int:
        """Rank for display: CRITICAL first, then UNKNOWN, WARNING, OK."""
        return {Status.OK: 0, Status.WARNING: 1, Status.UNKNOWN: 2, Status.CRITICAL: 3}[self]


def worst(statuses: list[Status] | tuple[Status, ...]) -> Status:
    """The overall status of a report: the most severe finding wins."""
    return max(statuses, key=lambda s: s.severity, default=Status.OK)


@dataclass(frozen=True, slots=True)
class Metric:
    """One number for perfdata: ``'label'=value[UOM];warn;crit;min;max``."""

    label: str
    value: float
    uom: str = ""
    warn: float | None = None
    crit: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """What a check found. ``id`` is stable across runs (e.g. ``dns.mx.lab.test``)."""

    id: str
    status: Status
    summary: str
    details: str = ""
    hint: str = ""
    metrics: tuple[Metric, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


# Unicode bidirectional controls: they reorder what follows on the line (U+202E shows "exe.txt" as
# "txt.exe"), so a server's text could disguise what a terminal shows. ALM, LRM, RLM, the embeddings and
# overrides (LRE..RLO), the isolates (LRI..PDI); and the line/paragraph separators.
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")


def clean(text: object, keep_newlines: bool = False) -> str:
    """Escape what could drive or mislead a terminal, so remote text is shown as data.

    C0 and C1 control characters (ESC, CR, ...) and DEL become ``\\xNN``, bidirectional controls ``\\uNNNN``,
    a byte kept as a lone surrogate by ``surrogateescape`` ``\\xNN`` (other lone surrogates ``\\uNNNN``: they
    cannot be printed at all); a tab becomes a space; a newline is kept only with ``keep_newlines``.
    """
    text = str(text)
    if text.isprintable():  # fast path: nothing to escape (bidi controls and surrogates are not printable)
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif code < 32 or code == 127 or 0x80 <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in _BIDI or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)
