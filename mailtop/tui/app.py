"""The Textual application: a thin shell that mounts one panel per module of this package."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Footer, Header, Static

from mailtop import __version__
from mailtop.config import Config


class MailtopApp(App[int]):
    """mailtop's dashboard."""

    TITLE = "mailtop"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
    ]

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.sub_title = f"{config.general.hostname or 'localhost'} - v{__version__}"
        if config.general.theme == "light":
            self.theme = "textual-light"

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="body"):
            yield Static(self._summary(), id="config-summary", markup=False)
        yield Footer()

    def _summary(self) -> str:
        cfg = self.config
        logs = ", ".join(str(p) for p in cfg.logs.files) or "(journal)" if cfg.logs.journal else "none"
        return (
            f"Postfix config: {cfg.postfix.config_dir}\n"
            f"Mail log: {logs}\n"
            f"SMTP {cfg.smtp.host}:{cfg.smtp.port}  IMAP {cfg.imap.host}:{cfg.imap.port}  "
            f"POP3 {cfg.pop3.host}:{cfg.pop3.port}\n"
            f"Domains: {', '.join(cfg.dns.domains) or 'none configured'}"
        )

    def action_help(self) -> None:
        self.action_show_help_panel()


def run_app(config: Config) -> int:
    app = MailtopApp(config)
    app.run()
    return app.return_code or 0
