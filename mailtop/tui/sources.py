"""Build the collectors (:class:`~mailtop.tui.collect.Source`) from the config, importing each core lazily.

A core that is not installed (or not configured) gives no source but a reason, which the panels
show instead of a blank.
"""

from __future__ import annotations

from mailtop.config import Config
from mailtop.tui.collect import Source


def build_sources(cfg: Config) -> tuple[list[Source], dict[str, str]]:
    sources: list[Source] = []
    missing: dict[str, str] = {}
    return sources, missing
