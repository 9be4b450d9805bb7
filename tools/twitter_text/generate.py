"""Write bot/services/sharing/_reference_rules.py from the official counters' own rules.

    node reference.js sources /tmp/sources.json && python generate.py /tmp/sources.json

The JavaScript regular expressions work on UTF-16 code units, so the counters in
bot/services/sharing/counting.py run them on text spelled as UTF-16 code units (an astral character
as its two surrogates): the indexes and lengths are then the ones the JavaScript code sees. This
script translates JavaScript's syntax to Python's `re`:
- `^` and `$` (outside a class) are the start and end of the text: `\\A` and `\\Z`;
- the `i` flag folds case as JavaScript does without the `u` flag: ASCII letters, and other letters
  only to letters that are not ASCII. Python's `re.IGNORECASE | re.ASCII` folds only ASCII, so
  every other letter is written with its case partners (`[дД]`, classes closed the same way).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "bot/services/sharing/_reference_rules.py"
BMP = [chr(c) for c in range(0x10000)]


def canonical(ch: str) -> str:
    """JavaScript's Canonicalize for a case-insensitive RegExp without the u flag (ECMA-262 22.2.2.7.3)."""
    upper = ch.upper()
    if len(upper) != 1 or (ord(ch) >= 128 and ord(upper) < 128):
        return ch
    return upper


PARTNERS: dict[str, list[str]] = {}
for _ch in BMP:
    if 0xD800 <= ord(_ch) <= 0xDFFF:
        continue
    PARTNERS.setdefault(canonical(_ch), []).append(_ch)


def partners(ch: str) -> list[str]:
    return PARTNERS.get(canonical(ch), [ch])


def escape(ch: str) -> str:
    code = ord(ch)
    if ch.isascii() and (ch.isalnum() or ch == "_"):
        return ch
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def close_class(cls: str) -> str:
    """Add to a class the case partners JavaScript would match but ASCII-only folding would not."""
    if cls.startswith("[^"):
        # A negated class matches a letter when none of its partners is listed: list them all.
        listed = re.compile("[" + cls[2:]).fullmatch
        members = {ch for ch in BMP if listed(ch)}
        extra = {p for ch in members for p in partners(ch) if not ch.isascii() or not p.isascii()} - members
        return cls if not extra else cls[:-1] + "".join(escape(ch) for ch in sorted(extra)) + "]"
    matcher = re.compile(cls, re.IGNORECASE | re.ASCII).fullmatch
    members = {ch for ch in BMP if matcher(ch)}
    extra = {p for ch in members for p in partners(ch)} - members
    return cls if not extra else cls[:-1] + "".join(escape(ch) for ch in sorted(extra)) + "]"


def translate(source: str, flags: str) -> str:
    fold = "i" in flags
    out, i = [], 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            token = source[i : i + 2]
            if token[1] in "ux":
                size = 6 if token[1] == "u" else 4
                token = source[i : i + size]
                literal = chr(int(token[2:], 16))
            else:
                literal = token[1] if not token[1].isalnum() else None
            if token in ("\\s", "\\S", "\\b", "\\B"):  # none used; their meanings differ
                raise SystemExit(f"cannot translate {token}")
            i += len(token)
            if fold and literal is not None and len(partners(literal)) > 1 and not literal.isascii():
                out.append("[" + "".join(escape(p) for p in partners(literal)) + "]")
            else:
                out.append(token)
            continue
        if ch == "[":
            end, j = None, i + 1
            if source[j : j + 1] == "^":
                j += 1
            while end is None:
                if source[j] == "\\":
                    j += 2
                elif source[j] == "]":
                    end = j
                else:
                    j += 1
            cls = source[i : end + 1]
            # Python reads "[[", "--", "&&", "~~" and "||" in a class as future set operations: escape them.
            body = re.sub(r"(?<!\\)([\[&~|])", r"\\\1", cls[1:-1]) if cls[1:-1] else cls[1:-1]
            cls = "[" + body + "]"
            out.append(close_class(cls) if fold else cls)
            i = end + 1
            continue
        if ch == "^":
            out.append(r"\A")
        elif ch == "$":
            out.append(r"\Z")
        elif ch == ".":
            raise SystemExit("cannot translate '.': its meaning differs")
        elif fold and len(partners(ch)) > 1 and not ch.isascii():
            out.append("[" + "".join(escape(p) for p in partners(ch)) + "]")
        else:
            out.append(ch)
        i += 1
    result = "".join(out)
    re.compile(result, re.ASCII | (re.IGNORECASE if fold else 0))
    return result


def literal(name: str, text: str) -> str:
    chunks = [text[at : at + 100] for at in range(0, len(text), 100)]
    body = "\n".join(f"    {json.dumps(chunk)}" for chunk in chunks)
    return f"{name} = (\n{body}\n)\n"


def main() -> None:
    sources = json.loads(Path(sys.argv[1]).read_text())
    versions = ", ".join(f"{name} {version}" for name, version in sources["versions"].items())
    parts = [
        '"""The official counters\' rules, generated by tools/twitter_text/generate.py: do not edit.\n\n'
        f"From the npm packages {versions}.\n"
        "twitter-text is (c) Twitter, Inc., Apache License 2.0; twemoji-parser (c) Twitter, Inc., MIT;\n"
        "stringz and char-regex, MIT. Mastodon's link rule is twitter-text's URL grammar with the\n"
        "protocol required (tools/twitter_text/reference.js).\n"
        "Each pattern is Python `re` syntax for text spelled as UTF-16 code units; compile it with\n"
        'the flags named beside it (re.ASCII always).\n"""\n',
        f"VERSIONS = {json.dumps(sources['versions'])}\n",
        f"X_CONFIG = {json.dumps(sources['config'])}\n".replace("true", "True"),
    ]
    for key in (
        "x_url",
        "x_ascii_domain",
        "x_invalid_before_bare_url",
        "x_tco_url",
        "x_emoji",
        "mastodon_url",
        "mastodon_mention",
        "stringz_symbol",
    ):
        entry = sources[key]
        parts.append(literal(key.upper(), translate(entry["source"], entry["flags"])))
        parts.append(f"{key.upper()}_IGNORECASE = {'i' in entry['flags']}\n")
    OUT.write_text("\n".join(parts))
    # The project's formatter has the last word on the layout, so a regenerated file differs only where the rules do.
    subprocess.run([sys.executable, "-m", "ruff", "format", "--quiet", str(OUT)], check=True)  # noqa: S603
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
