"""Text that members and GitHub wrote, kept from turning the text around it backwards (no Discord).

Unicode's bidirectional controls change the direction of everything after them up to the end of
the paragraph: a display name holding U+202E (RIGHT-TO-LEFT OVERRIDE) reversed the rest of the
public page's footer. Every name or title shown beside other text goes through `isolate`, which
makes it one isolated run (U+2068 FIRST STRONG ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE, the
plain-text twin of HTML's <bdi>): its own controls still work inside it, and nothing leaks out.
Text without controls is returned as it is: its letters follow the bidirectional algorithm like
any text's and cannot override anything, and wrapping every name would put invisible characters
in every title and link preview. Pictures cannot isolate text cut to fit, so they draw it
without the controls (`strip`, through `bot.images.text.drawable`).
"""

from __future__ import annotations

__all__ = ["CONTROLS", "isolate", "strip"]

_EMBEDDINGS = "\u202a\u202b\u202d\u202e"  # LRE, RLE, LRO, RLO: closed by PDF, or by the PDI of their isolate
_PDF = "\u202c"
_ISOLATES = "\u2066\u2067\u2068"  # LRI, RLI, FSI: closed by PDI
_PDI = "\u2069"
FSI, PDI = "\u2068", _PDI
CONTROLS = frozenset(_EMBEDDINGS + _PDF + _ISOLATES + _PDI)


def isolate(text: str) -> str:
    """Return `text` as one direction-isolated run when it holds bidirectional controls (else as it is).

    The run is FSI, the text with its isolates balanced, then PDI.
    A PDI that closes nothing of the text's own would close the FSI around it and let what follows
    leak out, so it is dropped; isolates left open are closed. Embeddings and overrides need no
    care: the closing PDI ends every one opened inside the run.
    """
    if not CONTROLS.intersection(text):
        return text
    out: list[str] = []
    open_isolates = 0
    for char in text:
        if char in _ISOLATES:
            open_isolates += 1
        elif char == _PDI:
            if not open_isolates:
                continue
            open_isolates -= 1
        out.append(char)
    return f"{FSI}{''.join(out)}{PDI * open_isolates}{PDI}"


def strip(text: str) -> str:
    """Return `text` without bidirectional controls (for a drawing that cannot isolate)."""
    if not CONTROLS.intersection(text):
        return text
    return "".join(char for char in text if char not in CONTROLS)
