"""CI proves the README: the test command it shows is the one .ci/run runs, and its links lead somewhere."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What a newcomer reads in one sitting (issue 18); the rest lives in docs/.
README_LIMIT = 25_000
# The pages whose relative links and anchors are checked.
PAGES = [
    *(ROOT / name for name in ("README.md", "CONTRIBUTING.md", "CHANGELOG.md", "bench/README.md")),
    *sorted((ROOT / "docs").glob("*.md")),
]


def readme_commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def test_readme_starts_with_install_and_test_commands() -> None:
    install, test = readme_commands()[:2]
    assert "shiplog run" in install
    assert "DISCORD_TOKEN" in install
    assert "pytest" in test


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci
    # From the lock, with hashes; the project itself without resolving anything again.
    assert "pip install -q -r requirements/dev.txt" in test and "--no-deps -e ." in test


def test_a_hung_test_fails_on_its_own_and_the_rest_still_run(tmp_path: Path) -> None:
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert 0 < options["timeout"] <= 300
    (tmp_path / "test_hang.py").write_text(
        "import asyncio\nasync def test_hangs():\n    await asyncio.sleep(3600)\ndef test_after():\n    pass\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto", "-o", "timeout=1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Timeout (>1.0s)" in run.stdout and "1 failed, 1 passed" in run.stdout, run.stdout


def test_env_example_and_readme_table_list_every_setting() -> None:
    source = (ROOT / "bot" / "config.py").read_text()
    used = set(re.findall(r'get\("([A-Z_]+)"\)', source))
    example = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE))
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "README.md").read_text(), flags=re.MULTILINE))
    assert used == example == table


def test_the_readme_stays_short_enough_for_a_newcomer() -> None:
    # Counted in bytes, so never more characters than that either.
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size:,} bytes; move reference material to docs/"


def without_code_fences(markdown: str) -> str:
    return re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)


def without_code(markdown: str) -> str:
    """Drop fenced blocks and inline code, where brackets are not links."""
    return re.sub(r"`[^`\n]*`", "", without_code_fences(markdown))


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", without_code_fences(markdown), flags=re.MULTILINE):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:  # a repeated heading gets -1, -2, ...
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


def broken_links(page: Path) -> list[str]:
    """Relative links, images and anchors of a Markdown page that lead nowhere."""
    text = without_code(page.read_text())
    targets = re.findall(r"\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)  # [text](target), ![alt](target)
    targets += re.findall(r"^\[[^\]]+\]:\s*(\S+)", text, flags=re.MULTILINE)  # [name]: target
    targets += re.findall(r"<(?:img|a|source)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", text)
    broken = []
    for target in targets:
        if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.IGNORECASE):
            continue  # https:, mailto: ...: not ours to check offline
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in heading_anchors(file.read_text()):
            broken.append(f"{target}: no heading #{anchor} in {file.name}")
    return broken


def test_every_relative_link_of_the_readme_and_docs_leads_somewhere() -> None:
    assert (ROOT / "docs" / "operations.md") in PAGES
    broken = {page.relative_to(ROOT).as_posix(): broken_links(page) for page in PAGES}
    assert not {page: links for page, links in broken.items() if links}


def test_the_link_check_finds_a_missing_file_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "ops.md").write_text("# Running\n\n## The `shiplog` command\n\n## Run\n\n## Run\n")
    (tmp_path / "docs" / "pic.png").write_bytes(b"")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/ops.md#the-shiplog-command) [ok](docs/ops.md#run-1) [ok](#top) ![ok](docs/pic.png)\n"
        '<img src="docs/pic.png"> [web](https://example.com/nowhere.md) `[code](nowhere.md)`\n'
        '# Top\n[gone](docs/gone.md) [no anchor](docs/ops.md#the-command) <img src="docs/gone.png">\n'
        "[ref]: docs/old.md\n"
    )
    assert broken_links(page) == [
        "docs/gone.md: no such file",
        "docs/ops.md#the-command: no heading #the-command in ops.md",
        "docs/old.md: no such file",
        "docs/gone.png: no such file",
    ]
