"""Aliases panel: edit the aliases file (or the virtual alias table) with validation as you type.

The editor holds the whole file. Every pause in typing re-validates the text in a thread
(``mailtop.ops.aliases.validate_text``: syntax, duplicates, loops, unknown users, roles) and lists the
problems with their line numbers below the editor. ``ctrl+s`` saves through the core's safe path
(``save_with_config``: no save with errors, no overwrite of a file changed on disk, atomic rename,
backup, rebuild with ``newaliases``/``postalias``/``postmap``, roll back when the rebuild fails), after a
confirmation that shows the rebuild command. ``v`` switches between the aliases file and the virtual
table; ``ctrl+r`` reloads from disk. Esc leaves the editor so the panel keys work again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, TextArea

from mailtop.tui.panel import Panel
from mailtop.tui.text import literal


def undecodable_lines(raw: bytes) -> list[int]:
    """The 1-based numbers of the lines of ``raw`` that are not valid UTF-8."""
    bad = []
    for n, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(n)
    return bad


class AliasEditor(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Leave editor", show=False),
        Binding("ctrl+s", "save", "Save", show=False),
    ]

    def action_leave(self) -> None:
        panel = next(a for a in self.ancestors if isinstance(a, AliasesPanel))
        panel.focus()

    def action_save(self) -> None:
        panel = next(a for a in self.ancestors if isinstance(a, AliasesPanel))
        panel.action_save()


class AliasesPanel(Panel):
    TITLE = "Aliases"
    DESCRIPTION = "edit aliases / virtual with validation as you type; safe save"
    FILTER_HINT = "show problems containing"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit"),
        Binding("ctrl+s", "save", "Save", key_display="^S"),
        Binding("v", "switch", "Aliases/virtual"),
        Binding("ctrl+l", "reload", "Reload", key_display="^L"),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        cfg = ctx.config.aliases
        self.files: list[tuple[str, Path]] = [("aliases", Path(cfg.path))]
        if cfg.virtual_path is not None:
            self.files.append(("virtual", Path(cfg.virtual_path)))
        self.current = 0
        self.problems: list[Any] = []
        self.loaded_text = ""
        self.directory: Any = None
        self.validations = 0
        self.bad_lines: list[int] = []
        """Line numbers (1-based) holding bytes that are not UTF-8: the file is then shown read-only."""

    def compose_body(self) -> ComposeResult:
        yield Static(id="al-head", classes="subtle")
        yield AliasEditor("", id="al-editor", soft_wrap=False, show_line_numbers=True,
                          read_only=self.ctx.read_only)
        yield Static(id="al-problems")

    @property
    def editor(self) -> AliasEditor:
        return self.query_one("#al-editor", AliasEditor)

    @property
    def dialect(self) -> str:
        return self.files[self.current][0]

    @property
    def path(self) -> Path:
        return self.files[self.current][1]

    def on_mount(self) -> None:
        super().on_mount()
        self.load()

    def action_edit(self) -> None:
        self.editor.focus()

    # ------------------------------------------------------------------ load and validate
    def load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raw = b""
            self.app.notify(f"cannot read {self.path}: {exc.strerror or exc}", severity="error", markup=False)
        self.bad_lines = undecodable_lines(raw)
        if self.bad_lines:
            # The editor can only hold text: bytes that are not UTF-8 would become U+FFFD and a save would
            # write that, changing lines nobody edited. Shown read-only instead; the command line keeps them.
            text = raw.decode("utf-8", errors="replace")
            self.app.notify(f"{self.path}: {self._bad_text()}", title="aliases", severity="warning",
                            timeout=10, markup=False)
        else:
            text = raw.decode("utf-8")
        self.loaded_text = text
        self.editor.read_only = self.ctx.read_only or bool(self.bad_lines)
        self.editor.load_text(text)
        self._head()
        self.validate(self.editor.text)

    def _bad_text(self) -> str:
        lines = ", ".join(str(n) for n in self.bad_lines[:5]) + (" ..." if len(self.bad_lines) > 5 else "")
        return (f"bytes that are not UTF-8 on line {lines}: not editable here (the editor would change them); "
                f"fix the file, or edit with `mailtop aliases` (keeps them)")

    def _head(self) -> None:
        changed = self.editor.text != self.loaded_text
        parts: list[Any] = [(f"{self.dialect}: ", "bold"), literal(str(self.path))]
        if changed:
            parts.append(("  modified", "bold reverse"))
        if self.bad_lines:
            parts.append(("  READ-ONLY: ", "bold"))
            parts.append(f"not UTF-8 (line {self.bad_lines[0]})")
        elif self.ctx.read_only:
            parts.append(("  READ-ONLY: ", "bold"))
            parts.append(literal(self.ctx.read_only_reason))
        else:
            parts.append("  ^S save  Esc leave editor  v switch file")
        self.query_one("#al-head", Static).update(Text.assemble(*parts))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._head()
        self.validate(self.editor.text)

    @work(thread=True, exclusive=True, group="aliases-validate")
    def validate(self, text: str) -> None:
        from mailtop.ops.aliases import directory_for, validate_text

        if self.directory is None:
            try:
                self.directory = directory_for(self.ctx.config)
            except (OSError, ValueError) as exc:
                self.app.call_from_thread(self.app.notify, f"aliases: recipient directory unavailable: {exc}",
                                          severity="warning", markup=False)
        problems = validate_text(text, self.dialect, self.directory)  # type: ignore[arg-type]
        self.app.call_from_thread(self._show_problems, text, problems)

    def _show_problems(self, text: str, problems: list[Any]) -> None:
        if text != self.editor.text:
            return  # typing went on; a newer validation follows
        self.validations += 1
        self.problems = problems
        self.redraw()

    def render_view(self) -> None:
        needle = self.filter_text.lower()
        shown = [p for p in self.problems if not needle or needle in str(p).lower()]
        errors = sum(1 for p in self.problems if p.is_error)
        head = Text.assemble(
            ("no problems" if not self.problems else f"{errors} error(s), {len(self.problems) - errors} other",
             "bold red" if errors else "bold"),
        )
        lines = [head]
        if self.bad_lines:
            lines.insert(0, Text(self._bad_text(), style="bold red"))
        for p in shown[:6]:
            style = "red" if p.is_error else "yellow" if p.severity == "warning" else ""
            lines.append(Text.assemble((f"line {p.line}: " if p.line else "file: ", "bold"),
                                       (p.severity, style), ": ", literal(p.message),
                                       (f"  ({p.hint})" if p.hint else "", "dim")))
        if len(shown) > 6:
            lines.append(Text(f"... {len(shown) - 6} more", style="dim"))
        self.query_one("#al-problems", Static).update(Text("\n").join(lines))

    # ------------------------------------------------------------------ actions
    def action_switch(self) -> None:
        if self.editor.text != self.loaded_text:
            self.app.notify("save or reload (^L) the changes first", severity="warning")
            return
        self.current = (self.current + 1) % len(self.files)
        self.load()

    def action_reload(self) -> None:
        self.load()

    def action_save(self) -> None:
        if not self.can_act():
            return
        if self.bad_lines:
            self.app.notify(f"{self.path}: {self._bad_text()}", severity="error", markup=False)
            return
        from mailtop.ops.aliases import AliasFile, plan_rebuild, save_with_config

        cfg = self.ctx.config
        text = self.editor.text
        if text == self.loaded_text:
            self.app.notify("no changes to save", timeout=3)
            return
        errors = [p for p in self.problems if p.is_error]
        if errors:
            self.app.notify(f"fix the {len(errors)} error(s) first: {errors[0]}", severity="error", markup=False)
            return
        plan = plan_rebuild(self.path, self.dialect, cfg.postfix.config_dir, cfg.postfix.bin_dir,  # type: ignore[arg-type]
                            cfg.aliases.rebuild)
        argvs = [plan.argv] if plan.argv else []
        detail = f"write {self.path} (atomic rename, backup kept), then rebuild: {plan.reason}"
        path, dialect, loaded = self.path, self.dialect, self.loaded_text

        def run() -> str:
            af = AliasFile.load(path, dialect=dialect)  # type: ignore[arg-type]
            if af.render() != loaded:
                raise RuntimeError(f"{path} changed on disk since it was loaded: reload (^L) and redo the edit")
            af.set_text(text)
            res = save_with_config(af, cfg)
            if not res.ok:
                raise RuntimeError(f"{res.status}: {res.message}")
            return f"{res.status}: {res.message}"

        def done(ok: bool, outcome: str) -> None:
            if ok:
                self.load()

        self.app.confirm_and_run(f"save {self.path}", argvs, run, detail=detail, done=done)  # type: ignore[attr-defined]
