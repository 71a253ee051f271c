"""Postfix queue IDs: the one validator shared by the queue core (``mailtop.mta``) and the log parser.

Two formats (Postfix ``src/global/mail_queue.h``):

* **Short** (the default): the microseconds of the queue file's creation time as exactly 5 upper-case
  hex digits, then the queue file's inode number in upper-case hex, without padding. A 64-bit inode
  number has 1 to 16 hex digits, so a short ID has 6 to 21 characters. Small file systems give the
  familiar 10-12 (``2FB905143E6``); XFS (inode numbers encode the allocation group, >= 2**28 is
  common), btrfs and large ext4 give 13-21 (``D59A3400000087``).
* **Long** (``enable_long_queue_ids = yes``): the seconds in base 52 (6 or more characters; 6 until
  the year 2596, so at most 7 here), the microseconds in base 52 (exactly 4), a ``z``, then the inode
  number in base 51 (1 to 12 characters for a 64-bit number). The alphabet is digits and letters
  without vowels; base 51 drops the ``z``, so the *last* ``z`` is the separator and the time part may
  hold a ``z`` itself (``4YQ3Xz5ZbBz1n2``). 12 to 24 characters.
"""

from __future__ import annotations

import re

__all__ = ["LONG_PATTERN", "MAX_LEN", "SHORT_PATTERN", "is_queue_id"]

SHORT_MIN, SHORT_MAX = 6, 21
LONG_MIN, LONG_MAX = 12, 24
MAX_LEN = max(SHORT_MAX, LONG_MAX)
"""The longest queue ID (characters)."""

_SAFE52 = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]"      # Postfix's safe alphabet: no vowels
_SAFE51 = "[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-y]"      # the same without "z"

SHORT_PATTERN = rf"[0-9A-F]{{{SHORT_MIN},{SHORT_MAX}}}"
"""A regular expression (no anchors, no groups) for a short queue ID."""
LONG_PATTERN = rf"{_SAFE52}{{10,11}}z{_SAFE51}{{1,12}}"
"""A regular expression (no anchors, no groups) for a long queue ID."""

_LONG = re.compile(LONG_PATTERN)
_HEX = "0123456789ABCDEF"


def is_queue_id(text: str) -> bool:
    """True for a short (hex) or long (``enable_long_queue_ids``) Postfix queue ID, nothing around it."""
    n = len(text)
    if SHORT_MIN <= n <= SHORT_MAX and not text.strip(_HEX):
        return True
    return LONG_MIN <= n <= LONG_MAX and _LONG.fullmatch(text) is not None
