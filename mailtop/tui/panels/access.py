"""Access panel: the POP3/IMAP login tester, step by step.

Pick an endpoint (the configured IMAP+STARTTLS, IMAPS, POP3+STLS, POP3S), type a user and a password
into the masked field and press Enter (or ``ctrl+t``): each endpoint is tested in a worker thread
(``mailtop.health.access.check_login``) and the table shows every step with its verdict and time, the
greeting, the message count and the certificate. ``a`` tests every endpoint.

The password is read from the field when the test starts, handed to the core, and the field is
cleared at once: it is never drawn, never kept by the panel, never logged.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Select, Static
from textual.worker import Worker, WorkerState

from mailtop.tui.panel import Panel
from mailtop.tui.secret import Secret, scrub, secret_input
from mailtop.tui.text import literal
from mailtop.tui.widgets import sync_table

VERDICT_STYLE = {"ok": "green", "skipped": "dim"}


class AccessPanel(Panel):
    TITLE = "Access"
    DESCRIPTION = "POP3/IMAP login tester (masked password, never kept)"
    FILTER_HINT = "step or text"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Type user/password"),
        Binding("ctrl+t", "test", "Test login", key_display="^T"),
        Binding("ctrl+a", "test_all", "Test every endpoint", key_display="^A"),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.results: list[Any] = []
        self.failures: list[tuple[str, str]] = []
        self.running = 0

    def compose_body(self) -> ComposeResult:
        from mailtop.health.access import configured_endpoints

        self.endpoints = {f"{e.protocol} {e.host}:{e.port}": e for e in configured_endpoints(self.ctx.config)}
        options = [(label, label) for label in self.endpoints]
        with Horizontal(id="ac-form"):
            yield Select(options, id="ac-endpoint", allow_blank=not options,
                         value=options[0][1] if options else Select.BLANK, prompt="endpoint")
            yield Input(placeholder="user", id="ac-user")
            yield secret_input(placeholder="password", id="ac-password")
        yield Static(id="ac-verdict", classes="subtle")
        table: DataTable[Any] = DataTable(id="ac-steps", cursor_type="row")
        for key, label, width in (("endpoint", "Endpoint", 18), ("step", "Step", 12), ("verdict", "Verdict", 14),
                                  ("ms", "ms", 7), ("detail", "Detail", None)):
            table.add_column(label, key=key, width=width)
        yield table

    def action_edit(self) -> None:
        self.query_one("#ac-user", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "ac-user":
            event.stop()
            self.query_one("#ac-password", Input).focus()
        elif event.input.id == "ac-password":
            event.stop()
            self.action_test()
        else:
            super().on_input_submitted(event)

    def _take_password(self) -> str:
        field = self.query_one("#ac-password", Input)
        password = field.value
        field.value = ""  # never kept on screen or in the widget
        return password

    def action_test(self) -> None:
        choice = self.query_one("#ac-endpoint", Select).value
        if choice is Select.BLANK or choice not in self.endpoints:
            self.app.notify("choose an endpoint", severity="warning")
            return
        self._start([self.endpoints[str(choice)]])

    def action_test_all(self) -> None:
        self._start(list(self.endpoints.values()))

    def _start(self, endpoints: list[Any]) -> None:
        user = self.query_one("#ac-user", Input).value.strip()
        if not user:
            self.app.notify("type a user name first", severity="warning")
            return
        password = self._take_password()
        self.results = []
        self.failures = []
        self.running = len(endpoints)
        self.query_one("#ac-verdict", Static).update(Text(f"testing {len(endpoints)} endpoint(s) as {user}..."))
        for ep in endpoints:
            # a holder, not the string: Textual logs a worker's arguments (repr) and, when it fails, its
            # locals; the fixed description keeps the arguments out of the worker's name altogether
            self._run(ep, user, Secret(password))
        del password

    @work(thread=True, group="access", description="access panel: login test", exit_on_error=False)
    def _run(self, endpoint: Any, user: str, secret: Secret) -> None:
        from mailtop.health.access import check_login, spec_for

        label = f"{endpoint.protocol} {endpoint.host}:{endpoint.port}"
        try:
            spec = spec_for(endpoint, user, self.ctx.config.general.timeout)
            result = check_login(spec, secret.reveal())
        except Exception as exc:  # noqa: BLE001 - shown as a notice; never a traceback (it would hold the password)
            why = scrub(f"{exc.__class__.__name__}: {exc}", secret.reveal())
            secret.clear()
            self.app.call_from_thread(self._failed, label, why)
            return
        finally:
            secret.clear()
        self.app.call_from_thread(self._done, result)

    def _done(self, result: Any) -> None:
        self.results.append(result)
        self.running = max(0, self.running - 1)
        self.redraw()

    def _failed(self, label: str, why: str) -> None:
        self.failures.append((label, why))
        self.running = max(0, self.running - 1)
        self.app.notify(f"{label}: the login test failed: {why}", title="access", severity="error", timeout=10,
                        markup=False)
        self.redraw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # _run catches its errors; this is for what escapes it (e.g. the app closing under it)
        if event.worker.group == "access" and event.state is WorkerState.ERROR:
            event.stop()
            self._failed("login test", f"{event.worker.error.__class__.__name__}: {event.worker.error}")

    def render_view(self) -> None:
        if not self.results and not self.failures:
            self.query_one("#ac-verdict", Static).update(
                Text("choose an endpoint, type user and password, Enter to test (^A: every endpoint)", style="dim"))
            return
        verdicts = []
        rows = []
        needle = self.filter_text.lower()
        for res in sorted(self.results, key=lambda r: r.spec.protocol):
            label = f"{res.spec.protocol} :{res.spec.port}"
            verdicts.append(Text.assemble(f"{res.spec.protocol} ",
                                          (str(res.verdict), "bold green" if res.ok else "bold red"),
                                          f" {res.seconds * 1000:.0f} ms"))
            for step in res.steps:
                if needle and needle not in f"{step.name} {step.detail}".lower():
                    continue
                verdict = str(step.verdict)
                rows.append((f"{label}/{step.name}", [
                    literal(label), step.name, Text(verdict, style=VERDICT_STYLE.get(verdict, "bold red")),
                    Text(f"{step.seconds * 1000:.0f}", justify="right"), literal(step.detail),
                ]))
            if res.cert is not None:
                c = res.cert
                rows.append((f"{label}/cert", [literal(label), "certificate", "valid" if c.verified else "unverified",
                                               "", literal(f"{c.subject}, {c.days_left:.0f} days left, "
                                                           f"{c.tls_version}")]))
        for label, why in self.failures:
            verdicts.append(Text.assemble(f"{label} ", ("ERROR", "bold red"), " ", literal(why)))
        head = Text("  ").join(verdicts)
        if self.running:
            head.append(f"  ({self.running} running)", style="italic")
        self.query_one("#ac-verdict", Static).update(head)
        sync_table(self.query_one("#ac-steps", DataTable), rows)
