"""Records shared by the collectors, the checks and both front ends.

Everything here is a frozen dataclass or an enum and imports nothing from the UI.
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
