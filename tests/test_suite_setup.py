"""The suite's own machinery: running it at another instant, and the browser tests' needs and pictures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import browser
from tests.conftest import TEST_NOW_ENV, requested_now


def test_shiplog_test_now_is_an_aware_instant_or_a_clear_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TEST_NOW_ENV, "2026-12-07T06:30:00Z")
    assert requested_now() == datetime(2026, 12, 7, 6, 30, tzinfo=UTC)
    monkeypatch.setenv(TEST_NOW_ENV, "2026-03-29T02:59:00+02:00")
    assert requested_now() == datetime(2026, 3, 29, 0, 59, tzinfo=UTC)
    for wrong, said in [("next monday", "ISO 8601"), ("2026-12-07T06:30:00", "needs a zone")]:
        monkeypatch.setenv(TEST_NOW_ENV, wrong)
        with pytest.raises(pytest.UsageError, match=said):
            requested_now()
    monkeypatch.delenv(TEST_NOW_ENV)
    assert requested_now() is None


def test_screenshots_go_to_a_temporary_folder_unless_the_docs_command_asks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(browser.SCREENSHOTS_ENV, raising=False)
    assert browser.screenshot_path("public-page.png", tmp_path) == tmp_path / "public-page.png"
    monkeypatch.setenv(browser.SCREENSHOTS_ENV, "/somewhere/docs")
    assert browser.screenshot_path("public-page.png", tmp_path) == Path("/somewhere/docs/public-page.png")
    assert browser.screenshot_path("phone.png", tmp_path) == tmp_path / "phone.png"  # not a docs picture
    assert set(browser.DOC_PICTURES) == {p.name for p in (browser.ROOT / "docs").glob("*.png")}


async def test_without_chromium_the_browser_tests_skip_saying_what_to_install_and_fail_on_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.delenv("CI", raising=False)
    mark = browser.skip_without_chromium()
    assert mark.name == "skip"
    assert "chromium and fonts-noto-color-emoji" in mark.kwargs["reason"]
    assert mark.kwargs["reason"].startswith(browser.SKIP_PREFIX)
    monkeypatch.setenv("CI", "true")
    mark = browser.skip_without_chromium()
    assert mark.name == "skipif" and mark.args == (False,)  # runs, and fails:
    with pytest.raises(pytest.fail.Exception, match="CI=true runs the browser tests"):
        async with browser.chromium():
            pass


def test_chromium_starts_without_libfaketime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKETIME", "-3600")
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1:/opt/other.so")
    env = browser.browser_env()
    assert "FAKETIME" not in env and env["LD_PRELOAD"] == "/opt/other.so"
