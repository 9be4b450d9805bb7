"""Write tests/fixtures/share/reference_counts.json: texts and the lengths the official counters give them.

    cd tools/twitter_text && npm ci && cd ../.. && .venv/bin/python tools/twitter_text/make_fixtures.py

The texts are tests/share_corpus.py's words and fragment texts, the raw titles and goals of its
first cases and the drafts built from them; reference.js measures each with the official counters. The tests read only
the JSON file: no node, no network.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "tests/fixtures/share"
MEASURED_CASES = 700  # of 2,626: enough texts of every kind, a fixture of a reasonable size

sys.path.insert(0, str(ROOT))

from tests.share_corpus import WORDS, drafts_of, make_cases, make_fragment_texts, member_texts  # noqa: E402


def main() -> None:
    cases = make_cases()
    OUT.mkdir(parents=True, exist_ok=True)
    texts = [*WORDS, *make_fragment_texts()]
    for case in cases[:MEASURED_CASES]:
        drafts = drafts_of(case)
        texts += member_texts(case) + [drafts[key] for key in ("x", "bluesky", "mastodon")]
    texts = list(dict.fromkeys(texts))
    with tempfile.TemporaryDirectory() as scratch:
        listed = Path(scratch) / "texts.json"
        listed.write_text(json.dumps(texts, ensure_ascii=False))
        measured = OUT / "reference_counts.json"
        command = [shutil.which("node") or "node", str(HERE / "reference.js"), "measure", str(listed), str(measured)]
        subprocess.run(command, check=True, cwd=HERE)  # noqa: S603 (our own script)
    print(f"measured {len(texts)} texts into {OUT}")


if __name__ == "__main__":
    main()
