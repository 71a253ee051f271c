"""Text from logs and mail headers is data: markup and terminal escape sequences cannot change the screen."""

from __future__ import annotations

from conftest import fixed, make_app
from screen_text import screen_lines

from mailtop.tui.text import clean, literal

HOSTILE = [
    "postfix/cleanup[1]: AAA111: warning: header Subject: [bold]x[/bold] from x",
    "postfix/smtpd[2]: BBB222: client=[link=https://evil.example/]click[/link]",
    "postfix/smtpd[3]: CCC333: \x1b[2J\x1b[H\x1b[31mRED\x1b[0m screen-clear attempt",
    "postfix/smtpd[4]: DDD444: \x1b]0;pwned title\x07 title attempt",
    "postfix/smtpd[5]: EEE555: \x1b]8;;https://evil.example/\x1b\\hyperlink\x1b]8;;\x1b\\ attempt",
    "postfix/smtpd[6]: FFF666: bidi \u202eevil\u202c and bell \x07 and nul \x00 end",
]
# the same lines without markup or escapes (same status words, so the same status colour)
HARMLESS = [f"postfix/smtpd[{i}]: {'ABCDEF'[i - 1] * 3}{i}{i}{i}: harmless line {i}" for i in range(1, 7)]
HARMLESS[0] = "postfix/cleanup[1]: AAA111: warning: header Subject: harmless"


def test_clean_removes_sequences_and_shows_controls():
    assert clean("a\x1b[31mb\x1b[0mc") == "abc"
    assert clean("x\x1b]0;title\x07y") == "xy"
    assert clean("x\x1b]8;;http://e/\x1b\\link\x1b]8;;\x1b\\y") == "xlinky"
    assert clean("bell\x07") == "bell\\x07"
    assert clean("\u202eabc") == "\\u202eabc"
    assert clean("[bold]kept[/bold]") == "[bold]kept[/bold]"
    assert "\x1b" not in clean("\x1bc\x1b(B\x1b[?1049h")
    text = literal("[bold]x[/bold] [link=https://e/]y[/link]")
    assert text.plain == "[bold]x[/bold] [link=https://e/]y[/link]" and not text.spans


async def _render(cfg, lines):
    app = make_app(cfg, [fixed("log", lines)])
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        strips = app.screen._compositor.render_strips()
        return screen_lines(app), strips


async def test_markup_and_escapes_in_log_lines_do_not_change_the_screen(plain_config):
    rows, strips = await _render(plain_config, HOSTILE)
    base_rows, base_strips = await _render(plain_config, HARMLESS)
    text = "\n".join(rows)
    # shown literally ...
    assert "[bold]x[/bold]" in text
    assert "[link=https://evil.example/]click[/link]" in text
    assert "RED screen-clear attempt" in text and " title attempt" in text and "hyperlink attempt" in text
    assert "\\u202eevil\\u202c and bell \\x07 and nul \\x00 end" in text
    # ... and nothing reached the terminal as a control or became a style, link or title
    for strip in strips:
        for seg in strip:
            assert "\x1b" not in seg.text and "\x07" not in seg.text and "\u202e" not in seg.text
            assert seg.style is None or seg.style.link is None
    # every screen row outside the log lines is identical to the harmless run, and the
    # log lines' styles are exactly those of harmless lines (status colour only)
    log_rows = [i for i, row in enumerate(rows) if "postfix/" in row]
    assert len(log_rows) == len(HOSTILE)
    for i, (row, base) in enumerate(zip(rows, base_rows, strict=True)):
        if i not in log_rows and "lines shown" not in row:
            assert row == base, i
    def styles(strip_list, idx):
        return {(s.style.bold, s.style.italic, s.style.link, s.style.color) for s in strip_list[idx] if s.style}
    # the last line is under the cursor (highlighted) in both runs; compare the others
    for i in log_rows[:-1]:
        assert styles(strips, i) == styles(base_strips, i), rows[i]
    assert styles(strips, log_rows[0]) != styles(strips, log_rows[1])  # the warning is coloured: styles are seen
