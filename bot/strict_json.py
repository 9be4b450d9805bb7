"""JSON from input nobody vouches for, read by one rule: GitHub's webhook intake and the playground's API.

Only JSON as RFC 8259 writes it is read: no NaN or Infinity, no number too large for a float, no
unpaired surrogate escape such as "\\ud800" (no UTF-8 text can hold one, and PostgreSQL's JSON and
Discord refuse it later, far from the request that brought it), an object at the top, and nesting
capped by the caller: how deep the parser itself can go depends on the stack it starts from.
Every refusal is a ValueError, even nesting too deep for the parser (a RecursionError), so an
intake answers every bad body with a 400.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, NoReturn

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


def loads_object(text: str, *, max_depth: int) -> dict[str, Any]:
    """Return the JSON object in `text`, nested at most `max_depth` deep (the object itself is 1); raise ValueError."""
    try:
        payload = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # the parser recurses once per level: 200,000 "[" exhaust the stack
        raise ValueError("the JSON is nested too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError("the JSON is not an object")
    _check_depth(payload, max_depth)
    # A one-character search first (a memchr): without a backslash the text has no escape at all.
    if "\\" in text and _SURROGATE_ESCAPE.search(text) and _holds_a_surrogate(payload):
        raise ValueError("the JSON holds an unpaired surrogate escape")
    return payload


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise ValueError(f"the number {literal[:20]} is too large")
    return number


def _check_depth(payload: dict[str, Any], max_depth: int) -> None:
    # A loop, not recursion: the payload may be nested almost as deep as the parser allows. Only
    # containers are visited (about 14 µs for a 15 KB delivery).
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        item, depth = stack.pop()
        for child in item.values() if type(item) is dict else item:
            if type(child) is dict or type(child) is list:
                if depth >= max_depth:
                    raise ValueError(f"the JSON is nested more than {max_depth} deep")
                stack.append((child, depth + 1))


def _holds_a_surrogate(payload: dict[str, Any]) -> bool:
    stack: list[Any] = [payload]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
