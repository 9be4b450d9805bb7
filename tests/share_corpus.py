"""Adversarial, real-world inputs for the share drafts (tests/test_share.py, tools/twitter_text/make_fixtures.py).

The same every time: CJK titles, emoji sequences, URLs X or Mastodon do not take for links
(`http://localhost:3000/x`, `foo.barbaz`), noncharacters, RTL, combining marks and repository names
at GitHub's limits.
"""

from __future__ import annotations

import json
import random
import sys
import unicodedata

from bot.services.sharing import share

rng = random.Random(20261207)
WORDS = [
    "Fix",
    "crash",
    "when",
    "the",
    "config",
    "is",
    "empty",
    "Add",
    "support",
    "for",
    "README.md",
    "docs",
    "typo",
    "in",
    "setup.py",
    "foo.bar",
    "example.com",
    "x.io/a",
    "v1.2.3",
    "node.js",
    "api.v2",
    "http://localhost:3000/x",
    "http://localhost:3000/dashboard?tab=goals",
    "https://localhost/a",
    "http://127.0.0.1:8080/health",
    "https://github.com/encode/httpx/pull/3120",
    "https://example.com/" + "a" * 120,
    "www.example.org",
    "foo.bar/baz",
    "my.site",
    "test.local",
    "a.co",
    "t.co/abc",
    "example.com.",
    "(https://example.com/x)",
    "https://例え.jp/パス",
    "https://example.com/path_(with)_parens",
    "user@example.com",
    "@alice@mastodon.social",
    "@bob",
    "#hashtag",
    "$CASH",
    "file:///etc/passwd",
    "ftp://example.com",
    "HTTPS://EXAMPLE.COM",
    "https://xn--fsq.com",
    "日本語のタイトル",
    "修复了一个错误",
    "한국어",
    "中文标题很长很长很长",
    "ｆｕｌｌｗｉｄｔｈ",
    "🧑‍💻",
    "👩‍👩‍👧",
    "🇫🇷",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "👍🏽",
    "❤️",
    "✅",
    "🚢",
    "🔥",
    "©",
    "™",
    "1️⃣",
    "☺",
    "🫶",
    "e\u0301",
    "a\u0308\u0301",
    "ﷺ",
    "𝕏",
    "字",
    "עברית",
    "العربية",
    "\u200f",
    "\u202e",
    "\ufffe",
    "\uffff",
    "\u2028",
    "…",
    "—",
    "“quoted”",
    "‘’",
    "\u3000",
    "ﾃｽﾄ",
    "Ω",
    "ñ",
    "ß",
    "\u0e01\u0e34",
    "ह\u093f",
    "\U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1",
    "\u00a0",
    "\t",
    "\u2009",
    "🏳️‍🌈",
    "\U000e0041",
    "example.c",
    "foo.barbaz",
    "github.io",
    "pages.dev",
    "bit.ly/x",
    "my-project.vercel.app",
    "localhost:3000",
    "https://localhost",
    "http://a.b",
    "https://example.com:8080/x?y=1#z",
]
CJK = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自可去"


def word():
    r = rng.random()
    if r < 0.6:
        return rng.choice(WORDS)
    if r < 0.8:
        return "".join(rng.choice(CJK) for _ in range(rng.randint(1, 12)))
    return "".join(assigned() for _ in range(rng.randint(1, 6)))


def assigned():
    """A random character assigned in Python 3.11's Unicode (14.0), which every counter here knows."""
    while True:
        ch = chr(
            rng.choice(
                [
                    rng.randint(0x20, 0x7E),
                    rng.randint(0xA0, 0x2FFF),
                    rng.randint(0x3000, 0xD7FF),
                    rng.randint(0x1F300, 0x1FAFF),
                    rng.randint(0x10000, 0x2FFFF),
                ]
            )
        )
        if unicodedata.category(ch) != "Cn":
            return ch


def text(lo, hi):
    n = rng.randint(lo, hi)
    sep = rng.choice([" ", " ", " ", "", "\n"])
    return sep.join(word() for _ in range(n))


def repo():
    owner = (
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(rng.randint(1, 39))).strip("-")
        or "o"
    )
    name = rng.choice(["", "", "x.", "foo.bar", "node.js", "README.md", "my.site", "a.co"]) + "".join(
        rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        for _ in range(rng.randint(1, 100))
    )
    return f"{owner}/{name[:100]}"


def make_cases(count: int = 2626) -> list[dict]:
    """`count` inputs for the draft builders, a quarter of each kind, the same every time."""
    rng.seed(20261207)
    cases: list[dict] = []
    for i in range(count):
        kind = ["merged", "goal", "recap", "streak"][i % 4]
        if kind == "merged":
            r = repo()
            total = rng.choice([1, 1, 2, 7, 120, 99999])
            cases.append(
                {
                    "kind": kind,
                    "repo": r,
                    "title": text(1, 60),
                    "url": f"https://github.com/{r}/pull/{rng.randint(1, 10**7)}",
                    "total": total,
                    "in_repo": rng.randint(1, total),
                    "known": rng.random() < 0.9,
                    "exact": rng.random() < 0.9,
                }
            )
        elif kind == "goal":
            cases.append(
                {
                    "kind": kind,
                    "goal": text(1, 80),
                    "days": rng.choice([None, 0, 1, 3, 400]),
                    "url": rng.choice([None, f"https://github.com/{repo()}/issues/{rng.randint(1, 99999)}"]),
                }
            )
        elif kind == "recap":
            cases.append(
                {
                    "kind": kind,
                    "prs": [[repo(), rng.randint(1, 50)] for _ in range(rng.randint(0, 6))],
                    "goals_finished": [text(1, 20) for _ in range(rng.randint(0, 6))],
                    "goals_set": rng.randint(0, 5),
                    "checkins": rng.randint(0, 9),
                    "streak": rng.randint(0, 300),
                    "cadence": rng.choice(["weekly", "daily"]),
                    "kudos": rng.randint(0, 40),
                    "next_step": rng.choice([None, text(1, 40)]),
                }
            )
        else:
            cases.append({"kind": kind, "length": rng.randint(1, 10**6), "cadence": rng.choice(["weekly", "daily"])})

    return cases


# Pieces of links, domains, emoji and case folds, put together at random: where a port of a URL
# grammar or an emoji list would go wrong (a TLD in capitals, the Kelvin sign, "。" between labels).
FRAGMENTS = [
    *("http://", "https://", "www.", ".com", ".co.jp", ".md", ".io", "/", "?", "=", "#", "(", ")", "@", "＠"),
    *(".", "-", "_", ":8080", "t.co/", "example", "例え", "москва", ".рф", ".РФ", "ДОМЕН", "xn--", "ſ", "K", "İ"),
    *("ı", " ", "\n", "。", "．", "🧑\u200d💻", "👍🏽", "🇫🇷", "❤️", "©", "®", "\ufe0f", "\u200d", "字", "e\u0301"),
    *("\u202e", "\ufffe", "#tag", "$CASH", "a", "b", "z", "Z", "0", "9", "~", "!", "'", ",", ";", "&", "|", "["),
    *("]", "%", "+", "*", "\u2013", "\u3000", "ä", "Ω"),
]


def make_fragment_texts(count: int = 1500) -> list[str]:
    """`count` short texts of `FRAGMENTS`, the same every time."""
    pick = random.Random(7)
    return ["".join(pick.choice(FRAGMENTS) for _ in range(pick.randint(1, 30))) for _ in range(count)]


def drafts_of(case: dict) -> dict[str, str]:
    """Every network's draft for one case of `make_cases`."""
    args = dict(case)
    kind = args.pop("kind")
    if kind == "recap":
        args["prs"] = [tuple(pr) for pr in args["prs"]]
    build = {"merged": share.merged_pr, "goal": share.goal_done, "recap": share.weekly_recap}
    return build.get(kind, share.streak_milestone)(**args)


def member_texts(case: dict) -> list[str]:
    """The member and GitHub text of one case, as they wrote it."""
    texts = [case.get("title"), case.get("goal"), case.get("next_step"), *case.get("goals_finished", [])]
    return [text for text in texts if text]


if __name__ == "__main__":
    json.dump(make_cases(int(sys.argv[1]) if len(sys.argv) > 1 else 2626), sys.stdout, ensure_ascii=False, indent=0)
