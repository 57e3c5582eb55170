"""Screenshot of the chat for the README: ``python scripts/screenshot.py [--out docs/screenshot-chat.png]``.

Starts the app in-process on a free loopback port over a temporary data dir (the bundled sample is
ingested on start), asks a question through Chromium (Playwright, /usr/bin/chromium), clicks the first
citation so the sources panel shows the highlighted passage, and saves the PNG.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from contextlib import closing
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
QUESTION = "Nguyên nhân chính của những tồn tại, hạn chế trong cải cách hành chính là gì?"


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/screenshot.py")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "docs" / "screenshot-chat.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=860)
    parser.add_argument("--question", default=QUESTION)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1

    from playwright.sync_api import sync_playwright

    import app
    from bot.engine import Engine
    from settings import Settings

    cache = Path(os.environ.get("CCHC_CACHE_DIR") or PROJECT_DIR / "data" / "cache")
    with tempfile.TemporaryDirectory(prefix="cchc-shot-") as tmp:
        settings = Settings(data_dir=Path(tmp), cache_dir=cache, port=free_port())
        engine = Engine(settings)
        demo = app.build_app(engine, settings)
        _, url, _ = app.launch(demo, settings, prevent_thread_lock=True, quiet=True)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": args.width, "height": args.height}, device_scale_factor=1)
                page.set_default_timeout(180_000)
                page.goto(url)
                page.wait_for_selector("#status [data-state=ready]")
                page.locator("#question textarea").fill(args.question)
                page.click("#send")
                page.wait_for_selector("#chatbot .answer:not(.streaming) a.cite")
                page.locator("#chatbot a.cite").first.click()
                page.wait_for_selector("#sources .source.flash")
                page.wait_for_timeout(800)  # let the smooth scroll settle
                page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(300)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out))
                browser.close()
        finally:
            demo.close()
            engine.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
