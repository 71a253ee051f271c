"""Command line: the dashboard, ``--check``, ``--show-config`` and the scriptable subcommands.

Subcommands live in their own modules, each with ``configure(parser)`` and ``run(args, config) -> int``;
they are registered in ``SUBCOMMANDS`` and imported only when present, so this module stays light:
``mailtop --check`` must start fast and must never import Textual.
"""

from __future__ import annotations

import os
import sys

from mailtop import __version__

# argparse, importlib and mailtop.config are imported in the functions that use them: ``mailtop
# queue`` starts its listing (mailtop.mta.early) before any of them is loaded.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

    from mailtop.config import Config, Layer
    from mailtop.mta.early import EarlyListing

# name -> (module, one-line help). A module that does not exist yet is simply not offered.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "queue": ("mailtop.mta.command", "the mail queue: summary, shape by age and destination, reasons, actions"),
    "report": ("mailtop.logs.command", "what happened in a mail log: counts, delays, reasons, logins"),
    "trace": ("mailtop.logs.trace_command", "follow one message through the log by queue ID, message-id or address"),
    "aliases": ("mailtop.ops.aliases_command", "check and edit the aliases file safely"),
    "login": ("mailtop.health.access_command", "test a POP3/IMAP login step by step"),
    "probe": ("mailtop.health.probe_command", "send a probe to an autoresponder and time the round trip"),
}

CHECK_MODULE = "mailtop.report"


def _available(module: str) -> bool:
    """Whether ``module`` (a ``mailtop.`` module) exists, without importing its package (or pathlib)."""
    rel = os.path.join(os.path.dirname(os.path.realpath(__file__)), *module.split(".")[1:])
    return os.path.isfile(rel + ".py") or os.path.isfile(os.path.join(rel, "__init__.py"))


# Options of the main parser that take a value: the word after them is not a subcommand name.
_VALUE_OPTIONS = {"--config", "--set", "--format", "--only", "--skip"}


def _chosen_subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line, if any (so only its module is imported)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
            continue
        if word in _VALUE_OPTIONS:
            skip = True
        elif word in ("-h", "--help"):
            return None
        elif not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. With ``argv``, only the subcommand it names is configured (its module
    imported); the others are listed for help but cost nothing."""
    import argparse
    import importlib

    chosen = _chosen_subcommand(argv) if argv is not None else None
    parser = argparse.ArgumentParser(
        prog="mailtop",
        description="A terminal dashboard and health check for mail servers (Postfix, Dovecot, DNS).",
    )
    parser.add_argument("--version", action="version", version=f"mailtop {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML config file (also MAILTOP_CONFIG)")
    parser.add_argument(
        "--set",
        metavar="SECTION.KEY=VALUE",
        action="append",
        default=[],
        help="override one config value (highest precedence); may be repeated",
    )
    parser.add_argument("--show-config", action="store_true", help="print every config value and where it came from")
    parser.add_argument("--read-only", action="store_true", help="disable every action that changes the mail system")
    check = parser.add_argument_group("one-shot health report")
    check.add_argument("--check", action="store_true", help="run the health checks once, print a report and exit")
    check.add_argument("--format", choices=("text", "json", "nagios"), default="text", help="report format")
    check.add_argument("--only", metavar="ID,...", default="", help="run only checks whose id starts with one of these")
    check.add_argument("--skip", metavar="ID,...", default="", help="skip checks whose id starts with one of these")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if not _available(module):
            continue
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if argv is None or name == chosen:
            importlib.import_module(module).configure(sp)
    return parser


def _flags(args: argparse.Namespace) -> Layer:
    from mailtop.config import parse_assignments

    layer = parse_assignments(args.set)
    if args.read_only:
        layer.setdefault("general", {})["read_only"] = "true"
    return layer


def show_config(cfg: Config, out=None) -> None:
    out = out or sys.stdout
    if cfg.config_file:
        print(f"# config file: {cfg.config_file}", file=out)
    else:
        print("# config file: none", file=out)
    rows = cfg.items()
    width = max(len(k) for k, _, _ in rows)
    for key, value, source in rows:
        shown = value
        if isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "[]"
        print(f"{key:<{width}}  {shown!s:<40}  [{source}]", file=out)


def _early_listing(argv: list[str]) -> EarlyListing | None:
    """``mailtop queue`` (the summary): its ``postqueue -j``, started before anything else is imported
    (``mailtop.mta.early``; the queue command takes it over only if it is the configured command)."""
    if _chosen_subcommand(argv) != "queue" or not _available(SUBCOMMANDS["queue"][0]):
        return None
    from mailtop.mta.early import start_queue_summary

    return start_queue_summary(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    early = _early_listing(argv)
    try:
        return _main(argv, early)
    finally:
        if early is not None:
            early.discard()  # unless the queue command took it over: a refused option, a config error


def _main(argv: list[str], early: EarlyListing | None) -> int:
    import importlib

    from mailtop.config import ConfigError, load_config

    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if early is not None:
        args.early_listing = early
    try:
        cfg = load_config(args.config, flags=_flags(args))
    except ConfigError as exc:
        print(f"mailtop: configuration error: {exc}", file=sys.stderr)
        return 3 if args.check else 2
    if args.show_config:
        show_config(cfg)
        return 0
    if args.check:
        if not _available(CHECK_MODULE):
            print("UNKNOWN - mailtop --check: the health checks are not built yet", file=sys.stderr)
            return 3
        return importlib.import_module(CHECK_MODULE).run_check(args, cfg)
    if args.command:
        module, _ = SUBCOMMANDS[args.command]
        return importlib.import_module(module).run(args, cfg)
    if not sys.stdout.isatty() and not os.environ.get("MAILTOP_FORCE_TUI"):
        print("mailtop: the dashboard needs a terminal; try 'mailtop --check' for a report", file=sys.stderr)
        return 2
    from mailtop.tui.app import run_app

    return run_app(cfg)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
