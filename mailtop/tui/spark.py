"""A one-line text sparkline: one character per sample, oldest left, newest right.

Textual's ``Sparkline`` stretches few samples over the whole width (three round trips drew as three
wide blocks, one of them solid) and draws nothing before the first samples. Here each sample is one
cell (the newest that fit the width), scaled between the smallest and largest shown, and until
``need`` samples exist the line says so ("collecting (1 of 3 points)").
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

BLOCKS = "▁▂▃▄▅▆▇█"
MIN_POINTS = 3


def spark_text(values: Sequence[float], width: int, *, need: int = MIN_POINTS, unit: str = "") -> Text:
    if len(values) < need:
        return Text(f"collecting ({len(values)} of {need} points)", style="dim italic")
    label_room = 24
    shown = list(values)[-max(1, width - label_room):]
    lo, hi = min(shown), max(shown)
    span = hi - lo
    cells = "".join(
        BLOCKS[len(BLOCKS) // 2 - 1] if span <= 0 else BLOCKS[min(len(BLOCKS) - 1, int((v - lo) / span * len(BLOCKS)))]
        for v in shown
    )
    return Text.assemble((cells, "bold"), (f"  {lo:g}..{hi:g}{unit}, {len(shown)} points", "dim"))
