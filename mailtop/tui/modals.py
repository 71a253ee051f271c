"""Modal screens: the confirmation that shows the exact command, and the help screen of every binding."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from mailtop.tui.text import literal


def command_text(argvs: Sequence[Sequence[str]]) -> Text:
    """The exact commands, one per line, shell-quoted so they could be pasted; shown literally."""
    return Text("\n").join(literal("$ " + shlex.join(list(argv))) for argv in argvs)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before a change: says what will happen and shows the exact command(s). y/Enter: yes, n/Esc: no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, argvs: Sequence[Sequence[str]], detail: str = "") -> None:
        super().__init__(classes="confirm")
        self.title_text = title
        self.argvs = [list(a) for a in argvs]
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static(literal(self.title_text, "bold"), id="confirm-title")
            if self.detail:
                yield Static(literal(self.detail), id="confirm-detail")
            with VerticalScroll(id="confirm-commands"):
                yield Static(command_text(self.argvs), id="confirm-command")
            with Horizontal(id="confirm-buttons"):
                yield Button("Yes, run it (y)", variant="error", id="yes")
                yield Button("No (n/Esc)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


def _key_label(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    names = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter", "space": "Space",
             "delete": "Del", "ctrl+r": "^R", "ctrl+s": "^S"}
    return ",".join(names.get(k, k) for k in binding.key.split(","))


def bindings_table(title: str, bindings: Sequence[Binding]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False,
                  box=None, padding=(0, 1), expand=True)
    table.add_column("key", style="bold", no_wrap=True, width=9)
    table.add_column("action", ratio=1)
    for b in bindings:
        table.add_row(_key_label(b), b.description or b.action)
    return table


class HelpScreen(ModalScreen[None]):
    """Every binding: the app's own and each panel's. Esc, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, sections: Sequence[tuple[str, Sequence[Binding]]], intro: str = "") -> None:
        super().__init__(classes="help")
        self.sections = sections
        self.intro = intro

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(Text("mailtop - keys (Esc to close)", style="bold"), id="help-title")
            if self.intro:
                yield Static(literal(self.intro), id="help-intro")
            for title, bindings in self.sections:
                yield Static(bindings_table(title, bindings), classes="help-section")

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
