"""How long each network says a post is: X's, Mastodon's and Bluesky's own counts, not estimates.

- X: twitter-text v3 (`parseTweet`'s weighted length), ported from the official JavaScript library
  with its own rules (`_reference_rules`): a link is what twitter-text's URL grammar takes for one
  (a known top-level domain is needed: `http://localhost:3000` is text) and counts 23; an emoji
  twemoji-parser knows counts 2; any other code point 1 in Latin and the like, 2 otherwise (CJK).
- Mastodon: the larger of its server's count and its web composer's. Both replace each link (the
  protocol required) by 23 characters and `@user@domain` by `@user`; the server then counts grapheme
  clusters, the composer what `stringz` calls symbols. The server reads a few links and mentions
  more narrowly (`mastodon_server_extra`): there the difference counts as text.
- Bluesky: grapheme clusters.

The JavaScript rules work on UTF-16 code units, so the ports run them on text spelled that way
(`_utf16`): an astral character is two units there, as in JavaScript.

No maintained Python library counts as X does: `twitter-text-parser` 3.0.0 (PyPI) disagreed with
the official library on 1,498 of 10,504 adversarial drafts (a newer emoji list, © as an emoji), 813
of them counting less; tools/twitter_text/README.md has how these ports are checked against the originals.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_right
from functools import lru_cache
from typing import TypedDict, cast

import regex

from bot.services.sharing import _reference_rules as rules

__all__ = [
    "URL_LENGTH",
    "bluesky_length",
    "graphemes",
    "mastodon_counts",
    "mastodon_length",
    "mastodon_server_extra",
    "strip_noncharacters",
    "x_length",
]

URL_LENGTH = 23  # X and Mastodon count every link as 23 characters

_GRAPHEME = regex.compile(r"\X")
# The 66 noncharacters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTER = re.compile(
    "[\ufdd0-\ufdef" + "".join(f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)) + "]"
)


def _compile(pattern: str, ignorecase: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII | (re.IGNORECASE if ignorecase else 0))


_X_URL = _compile(rules.X_URL, rules.X_URL_IGNORECASE)
_X_ASCII_DOMAIN = _compile(rules.X_ASCII_DOMAIN, rules.X_ASCII_DOMAIN_IGNORECASE)
_X_INVALID_BEFORE_BARE_URL = _compile(rules.X_INVALID_BEFORE_BARE_URL, rules.X_INVALID_BEFORE_BARE_URL_IGNORECASE)
_X_TCO_URL = _compile(rules.X_TCO_URL, rules.X_TCO_URL_IGNORECASE)
_X_EMOJI = _compile(rules.X_EMOJI, rules.X_EMOJI_IGNORECASE)
_MASTODON_URL = _compile(rules.MASTODON_URL, rules.MASTODON_URL_IGNORECASE)
_MASTODON_MENTION = _compile(rules.MASTODON_MENTION, rules.MASTODON_MENTION_IGNORECASE)
_STRINGZ_SYMBOL = _compile(rules.STRINGZ_SYMBOL, rules.STRINGZ_SYMBOL_IGNORECASE)

_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40
_MAX_DOMAIN_LABEL_LENGTH = 63
_LABEL_SEPARATORS = re.compile("[.\u3002\uff0e\uff61]")


def graphemes(text: str) -> list[str]:
    """Split text into user-perceived characters (extended grapheme clusters)."""
    return _GRAPHEME.findall(text)


def strip_noncharacters(text: str) -> str:
    """Drop Unicode noncharacters (U+FFFE, U+FFFF and the other 64): X refuses a post holding one."""
    return _NONCHARACTER.sub("", text)


def _utf16(text: str) -> str:
    """Spell text as UTF-16 code units, one per character of the result (surrogates for astral ones)."""
    return "".join(map(chr, array("H", text.encode("utf-16-le", "surrogatepass"))))


def _from_utf16(units: str) -> str:
    return units.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _punycode_length(label: str) -> int:
    """The length of punycode's toASCII(label), as twitter-text's idna check measures it."""
    parts = []
    for part in _LABEL_SEPARATORS.split(_from_utf16(label)):
        parts.append(part if part.isascii() else "xn--" + part.encode("punycode").decode("ascii"))
    return len(".".join(parts))


def _domain_to_ascii_length(domain: str) -> int | None:
    """twitter-text's idna.toAscii: None for a domain no URL may have, else the length of its ASCII form."""
    if domain[:4] == "xn--" and not _X_ASCII_DOMAIN.search(domain):
        return None
    labels = domain.split(".")
    for label in labels:
        if not 1 <= _punycode_length(label) <= _MAX_DOMAIN_LABEL_LENGTH:
            return None
    return len(domain)  # toAscii returns the labels joined, unencoded


def _x_urls(text: str) -> list[tuple[int, str]]:
    """twitter-text's extractUrlsWithIndices: (start, url) in UTF-16 units, on UTF-16 spelled text."""
    if "." not in text:
        return []
    urls: list[list] = []  # [start, url]: the last bare domain's url may still grow by its path
    for match in _X_URL.finditer(text):
        before, url, protocol, domain, path = match.group(2, 3, 4, 5, 7)
        end = match.end()
        start = end - len(url)
        ascii_length = _domain_to_ascii_length(domain)
        if ascii_length is None:
            continue
        if len(protocol or "https://") + len(url) + ascii_length - len(domain) > _MAX_URL_LENGTH:
            continue
        if not protocol:
            if _X_INVALID_BEFORE_BARE_URL.search(before):
                continue
            found, ascii_end = len(urls), 0
            for ascii_match in _X_ASCII_DOMAIN.finditer(domain):
                ascii_start = domain.index(ascii_match.group(), ascii_end)
                ascii_end = ascii_start + len(ascii_match.group())
                urls.append([start + ascii_start, ascii_match.group()])
            if len(urls) > found and path:  # the path goes with the last ASCII domain
                urls[-1][1] = url.replace(domain, urls[-1][1], 1)
        else:
            tco = _X_TCO_URL.match(url)
            if tco:
                if tco.group(1) and len(tco.group(1)) > _MAX_TCO_SLUG_LENGTH:
                    continue
                url = tco.group()
            urls.append([start, url])
    return [(start, url) for start, url in urls]


class _XRange(TypedDict):
    start: int
    end: int
    weight: int


class _XConfig(TypedDict):
    """The part of twitter-text v3's configuration the port reads."""

    scale: int
    defaultWeight: int
    transformedURLLength: int
    ranges: list[_XRange]


# The generated module holds the configuration as a plain literal, which mypy types dict[str, object].
_X_CONFIG = cast(_XConfig, rules.X_CONFIG)
_X_SCALE = _X_CONFIG["scale"]
_X_DEFAULT_WEIGHT = _X_CONFIG["defaultWeight"]
_X_URL_WEIGHT = _X_CONFIG["transformedURLLength"] * _X_SCALE
# parseTweet weighs each code unit by these ranges; a surrogate pair, by its second half (the default).
_X_LIGHT = re.compile("[" + "".join(f"{chr(r['start'])}-{chr(r['end'])}" for r in _X_CONFIG["ranges"]) + "]")
(_X_LIGHT_WEIGHT,) = {r["weight"] for r in _X_CONFIG["ranges"]}  # v3 has one: 100, half the default
_SURROGATE_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")


def _x_plain_weight(units: str) -> int:
    """parseTweet's weight of text with no link or emoji in it: code unit by code unit, a pair as one."""
    light = len(_X_LIGHT.findall(units))
    pairs = len(_SURROGATE_PAIR.findall(units))
    return light * _X_LIGHT_WEIGHT + (len(units) - light - pairs) * _X_DEFAULT_WEIGHT


@lru_cache(maxsize=4096)
def x_length(text: str) -> int:
    """Return X's weighted length of a post (twitter-text v3's parseTweet)."""
    units = _utf16(unicodedata.normalize("NFC", text))
    urls = dict(_x_urls(units))
    emoji = {match.start(): match.group() for match in _X_EMOJI.finditer(units)}
    starts = sorted({*urls, *emoji})
    weighted, at = 0, 0
    while at < len(units):
        if at in urls:  # a link, then an emoji, weigh the same wherever they start: parseTweet's order
            weighted += _X_URL_WEIGHT
            at += len(urls[at])
        elif at in emoji:
            weighted += _X_DEFAULT_WEIGHT
            at += len(emoji[at])
        else:
            following = bisect_right(starts, at)
            end = starts[following] if following < len(starts) else len(units)
            weighted += _x_plain_weight(units[at:end])
            at = end
    return weighted // _X_SCALE


def _mastodon_countable(units: str) -> str:
    """Mastodon's countable text (UTF-16 spelled): each link 23 characters, `@user@domain` as `@user`."""
    units = _MASTODON_URL.sub(lambda m: m.group(2) + "x" * URL_LENGTH, units)
    return _MASTODON_MENTION.sub(lambda m: m.group(1) + "@" + m.group(2), units)


# Mastodon's server reads a few links and mentions more narrowly than its web composer, and then
# counts more: a path may not end in one of these there, so `.../a=` is a link and "=" after it;
_SERVER_PATH_END_EXCLUDED = "!*\"'「」<>;:=,.$%[]~&|@()?"
# a remote mention counts whole after "=" or a word character of any script, or when the domain
# (which there may hold letters of any script) runs into "@" or "://".
_SERVER_WORD = regex.compile(r"[\p{L}\p{M}\p{Nd}\p{Pc}\p{Cs}]")
_SERVER_DOMAIN_TAIL = regex.compile(r"(?:[.-]*[\p{L}\p{M}\p{Nd}\p{Pc}\p{Cs}])*")


def mastodon_server_extra(text: str) -> int:
    """How many more characters Mastodon's server counts than its web composer's rules would give it.

    Never fewer: where unsure, the whole link or mention counts as text.
    """
    units, extra = _utf16(text), 0
    for match in _MASTODON_URL.finditer(units):
        url, query = match.group(3), match.group(8)
        tco = _X_TCO_URL.match(url)
        if tco and tco.group(1) and len(tco.group(1)) > _MAX_TCO_SLUG_LENGTH:
            extra += len(url) - URL_LENGTH  # not a link there at all
        elif tco:
            extra += len(url) - tco.end()  # a t.co link ends at its slug
        elif query is None and url.endswith("="):
            extra += len(url) - len(url.rstrip(_SERVER_PATH_END_EXCLUDED))
    linked = _MASTODON_URL.sub(lambda m: m.group(2) + "x" * URL_LENGTH, units)
    for match in _MASTODON_MENTION.finditer(linked):
        before, tail = match.group(1), _SERVER_DOMAIN_TAIL.match(linked, match.end())
        after = tail.end() if tail else match.end()  # the tail may be empty: it always matches
        if before == "=" or _SERVER_WORD.match(before) or linked.startswith(("@", "\uff20", "://"), after):
            extra += len(match.group()) - len(before) - 1 - len(match.group(2))
    return extra


def mastodon_counts(text: str) -> tuple[int, int]:
    """Return Mastodon's server's count of a post (graphemes) and its web composer's (stringz symbols)."""
    countable = _mastodon_countable(_utf16(text))
    server = len(graphemes(_from_utf16(countable))) + mastodon_server_extra(text)
    return server, len(_STRINGZ_SYMBOL.findall(countable))


@lru_cache(maxsize=4096)
def mastodon_length(text: str) -> int:
    """Return the length Mastodon gives a post: the larger of its server's and its web composer's counts."""
    return max(mastodon_counts(text))


def bluesky_length(text: str) -> int:
    """Return the length Bluesky gives a post: grapheme clusters."""
    return len(graphemes(text))
