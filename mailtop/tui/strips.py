"""Strips without reference cycles: a work-around for Textual's ``Strip`` caches.

``Strip.divide(cuts)`` with the single cut at the strip's end returns ``[self]`` and stores that list
in the strip's own ``_divide_cache``; ``Strip.crop_extend`` on a strip that already has the asked width
stores the strip itself in its ``_crop_extend_cache``. Either makes the strip reach itself, so it is
freed only by a full pass of the cyclic garbage collector, never by reference counting. The compositor
divides every line it paints, and scroll bars, tables and logs crop lines that fit: under load
(2,000 log lines/s, a 1,000-row queue table) that was ~3,500 dead strips with 7 caches each per 10 s
of keys, which made every full collection walk and free ~50,000 extra objects (140-220 ms).

:func:`install` wraps the two methods so that these self-answers are returned without being cached
(they cost nothing to compute); every other answer is cached as before. Installed by the app at import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_installed = False


def install() -> None:
    """Patch ``Strip.divide`` and ``Strip.crop_extend`` (idempotent)."""
    global _installed
    if _installed:
        return
    divide = Strip.divide
    crop_extend = Strip.crop_extend

    def divide_without_cycle(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        length = self.cell_length
        kept = [cut for cut in cuts if cut <= length]
        if kept == [length]:
            return [self]
        return divide(self, kept)

    def crop_extend_without_cycle(self: Strip, start: int, end: int, style: Style | None) -> Strip:
        if start <= 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    divide_without_cycle.__doc__ = divide.__doc__
    crop_extend_without_cycle.__doc__ = crop_extend.__doc__
    Strip.divide = divide_without_cycle  # type: ignore[method-assign]
    Strip.crop_extend = crop_extend_without_cycle  # type: ignore[method-assign]
    _installed = True
