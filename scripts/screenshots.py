#!/usr/bin/env python3
"""Screenshots of every dashboard panel against the running lab, as SVG files in ``screenshots/``.

    scripts/screenshots.py [--no-lab-up] [--size 120x36] [--out screenshots]

Starts the lab (``services/lab up``, idempotent; honours ``$MAILTOP_LAB_DIR``), sends traffic
(``services/lab traffic``), then opens the dashboard headless (``App.run_test``) with the lab's
``mailtop.toml``, waits for every collector to report, and saves one SVG per panel
(``screenshots/<n>-<panel>.svg``) plus the help screen. Run it inside your network namespace when you
use a private lab (see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def lab_dir() -> Path:
    return Path(os.environ.get("MAILTOP_LAB_DIR", REPO / ".lab")).resolve()


async def shoot(out: Path, size: tuple[int, int]) -> list[Path]:
    from mailtop.config import load_config
    from mailtop.tui.app import MailtopApp
    from mailtop.tui.panels import PANELS

    cfg = load_config(lab_dir() / "mailtop.toml", environ={}, detect=False)
    app = MailtopApp(cfg)
    app.animation_level = "none"
    written: list[Path] = []
    async with app.run_test(size=size) as pilot:
        for _ in range(300):  # every collector has reported once (checks included), at most 30 s
            if all(s.polls for s in app.poller.snapshots.values()):
                break
            await pilot.pause(0.1)
        await pilot.pause(1.0)
        for i, cls in enumerate(PANELS):
            await pilot.press(str(i + 1))
            await pilot.pause(0.5)
            if cls.panel_id() == "queue":
                await pilot.press("down")
            if cls.panel_id() == "probes":  # one probe, so the panel shows a round trip
                await pilot.press("p")
                panel = app.panel("probes")
                for _ in range(400):
                    await pilot.pause(0.1)
                    if panel.result is not None:
                        break
                await pilot.pause(0.3)
            name = f"{i + 1}-{cls.panel_id()}.svg"
            app.save_screenshot(name, path=str(out))
            written.append(out / name)
        await pilot.press("2", "g")
        await pilot.pause(0.3)
        app.save_screenshot("2b-queue-reasons.svg", path=str(out))
        await pilot.press("s")
        await pilot.pause(0.3)
        app.save_screenshot("2c-queue-shape.svg", path=str(out))
        await pilot.press("question_mark")
        await pilot.pause(0.3)
        app.save_screenshot("0-help.svg", path=str(out))
        written += [out / "2b-queue-reasons.svg", out / "2c-queue-shape.svg", out / "0-help.svg"]
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-lab-up", action="store_true", help="do not run services/lab up first")
    ap.add_argument("--traffic", type=int, default=30, help="messages for services/lab traffic (0: none)")
    ap.add_argument("--size", default="120x36", help="terminal size COLSxROWS")
    ap.add_argument("--out", default=str(REPO / "screenshots"))
    args = ap.parse_args()
    lab = [sys.executable, str(REPO / "services" / "lab")]
    if not args.no_lab_up:
        subprocess.run([*lab, "up"], check=True, timeout=600)
    if args.traffic:
        subprocess.run([*lab, "traffic", str(args.traffic)], check=True, timeout=600)
    cols, _, rows = args.size.partition("x")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(out, (int(cols), int(rows)))):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
