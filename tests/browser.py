"""A real headless Chromium for tests of web pages (Playwright driving the system's /usr/bin/chromium).

Playwright's own browser download is never used: `playwright install` fetches from the network,
and the system's Chromium is the one the project tests against.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# No sandbox (containers have no user namespaces), no GPU, and nothing that talks to the network
# by itself: tests must not leave loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def skip_without_chromium() -> pytest.MarkDecorator:
    """Skip a test, saying why, where Chromium or Playwright is missing."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return pytest.mark.skip(reason="Playwright is not installed: pip install -e '.[dev]'")
    if not (CHROMIUM.exists() or shutil.which("chromium")):
        return pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: install the distribution's chromium package")
    return pytest.mark.skipif(False, reason="")


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Launch headless Chromium; yield the Playwright Browser, closed at the end."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


SEVERE = ("serious", "critical")


async def severe_violations(tab: Any) -> list[str]:
    """Run axe-core (the copy axe-playwright-python ships) in `tab`; return its serious and critical findings.

    Each is one line: the rule, its impact, and the first few elements it found, for a readable failure.
    """
    from axe_playwright_python.base import AXE_SCRIPT

    await tab.evaluate(AXE_SCRIPT)
    results = await tab.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {[' '.join(n['target']) for n in v['nodes'][:5]]}"
        for v in results["violations"]
        if v["impact"] in SEVERE
    ]
