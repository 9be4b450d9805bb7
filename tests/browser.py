"""A real headless Chromium for tests of web pages (Playwright driving the system's /usr/bin/chromium).

Playwright's own browser download is never used: `playwright install` fetches from the network,
and the system's Chromium is the one the project tests against. The tests need Debian's
`chromium` and `fonts-noto-color-emoji` packages; without Chromium they are skipped, loudly, and
with CI=true they fail instead.

The tests write their screenshots to a temporary folder, so a test run leaves the checkout clean.
The pictures in docs/ are renewed by a command of their own:

    .venv/bin/python -m tests.browser screenshots
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
NEEDS = "Debian's chromium and fonts-noto-color-emoji packages (apt-get install chromium fonts-noto-color-emoji)"
# Where the browser tests write the pictures the docs show, when set (the screenshots command sets it).
SCREENSHOTS_ENV = "SHIPLOG_SCREENSHOTS"
# The docs' pictures, and the tests that take them.
_PLAYGROUND = "tests/test_playground.py::test_in_a_browser_a_member_sets_a_goal_and_sees_their_merge_celebrated"
_PUBLIC_PAGE = "tests/test_browser_pages.py::test_the_page_renders_on_desktop_and_phone_with_its_preview_card"
_COMMUNITY_PAGE = "tests/test_browser_pages.py::test_the_community_page_renders_on_desktop_and_phone_with_its_card"
DOC_PICTURES = {
    "playground.png": _PLAYGROUND,
    "public-page.png": _PUBLIC_PAGE,
    "public-page-phone.png": _PUBLIC_PAGE,
    "community-page.png": _COMMUNITY_PAGE,
    "community-page-phone.png": _COMMUNITY_PAGE,
}
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


def on_ci() -> bool:
    """Whether this run is CI's (CI=true), where a browser test must run rather than be skipped."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing_browser() -> str | None:
    """Say what the browser tests lack (Playwright, Chromium), or None when they can run."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "Playwright is not installed: .venv/bin/pip install -q -r requirements/dev.txt"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}"
    return None


SKIP_PREFIX = "browser test skipped"


def skip_without_chromium() -> pytest.MarkDecorator:
    """Skip a test, saying why and what to install, where Chromium or Playwright is missing.

    With CI=true it is not skipped: it fails in `chromium()`, so CI never passes without them.
    """
    missing = missing_browser()
    if missing is None or on_ci():
        return pytest.mark.skipif(False, reason="")
    return pytest.mark.skip(reason=f"{SKIP_PREFIX}: {missing}; the browser tests need {NEEDS}")


def browser_env() -> dict[str, str]:
    """The environment for Chromium: this one without libfaketime (SHIPLOG_TEST_NOW), which breaks
    Chromium's processes. The page's times come from the server under test, not the browser's clock."""
    env = dict(os.environ)
    for name in ("FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"):
        env.pop(name, None)
    preload = [lib for lib in env.pop("LD_PRELOAD", "").split(":") if lib and "faketime" not in lib]
    if preload:
        env["LD_PRELOAD"] = ":".join(preload)
    return env


def screenshot_path(name: str, folder: Path) -> Path:
    """Where a test writes its screenshot `name`: `folder` (a temporary one), or SHIPLOG_SCREENSHOTS
    for a picture the docs show."""
    target = os.environ.get(SCREENSHOTS_ENV)
    if target and name in DOC_PICTURES:
        return Path(target) / name
    return folder / name


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """Launch headless Chromium; yield the Playwright Browser, closed at the end."""
    missing = missing_browser()
    if missing is not None:  # only on CI: elsewhere the test was skipped
        pytest.fail(f"{missing}: CI=true runs the browser tests, which need {NEEDS}", pytrace=False)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=browser_env()
        )
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


def screenshots(folder: Path) -> int:
    """Renew the docs' pictures in `folder` by running the browser tests that take them, at a fixed
    instant (the tests pin their own clocks, so the pictures change only when the pages do)."""
    missing = missing_browser() or (None if EMOJI_FONT.exists() else f"no emoji font at {EMOJI_FONT}")
    if missing is not None:
        print(f"{missing}: the screenshots need {NEEDS}.", file=sys.stderr)
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **{SCREENSHOTS_ENV: str(folder.resolve())})
    tests = sorted(set(DOC_PICTURES.values()))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests]
    code = subprocess.call(command, cwd=ROOT, env=env)  # noqa: S603 (this Python, these tests)
    if code == 0:
        print("renewed: " + ", ".join(str(folder / name) for name in DOC_PICTURES))
    return code


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.browser", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    shots = commands.add_parser("screenshots", help="renew the pictures in docs/ (playground, pages)")
    shots.add_argument("--to", type=Path, default=ROOT / "docs", help="the folder to write them to (docs/)")
    arguments = parser.parse_args()
    sys.exit(screenshots(arguments.to))
