"""Documented limits on the free-text fields an analyst types, and the one check that enforces them.

Why: a 100 kB case number or examiner name overflows the report layout, and control characters (or the
bidirectional overrides that reorder what a reader sees) let a value print as something other than what was
stored.  Every edge that accepts such text (the command line, the dialogs, the services) calls :func:`check_text`
with the field's limit, so the rule is the same wherever the value enters.

Limits are in characters (Unicode code points) after stripping leading and trailing white space.
"""
from __future__ import annotations

import unicodedata

CASE_NAME = 200
CASE_NUMBER = 64
EXAMINER = 200
DESCRIPTION = 4000
ACTOR = 200
NOTE = 20000
CONCLUSION_REASON = 4000

# A field allowed this many characters or more is free text: newlines and tabs are kept in it.
MULTI_LINE_FROM = 1000
_MULTI_LINE_CONTROLS = frozenset("\n\t")
# Bidirectional embeddings, overrides and isolates: they reorder the displayed text without being seen.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_text(field: str, value: str, limit: int, multiline: bool | None = None) -> str:
    """``value`` stripped, or ValueError naming ``field`` when it is too long or holds a forbidden character.

    ``multiline`` defaults to ``limit >= MULTI_LINE_FROM``: descriptions, notes and reasons keep newlines and
    tabs (Windows line ends become ``\\n``); names and numbers are one line.  Forbidden everywhere: other control
    characters, bidirectional overrides, and lone surrogates (undecodable bytes from a command line).
    """
    if multiline is None:
        multiline = limit >= MULTI_LINE_FROM
    text = (value or "").strip()
    if multiline:
        text = text.replace("\r\n", "\n")
    if len(text) > limit:
        raise ValueError(f"{field} is {len(text)} characters; the limit is {limit}")
    bad = _first_forbidden(text, _MULTI_LINE_CONTROLS if multiline else frozenset())
    if bad is not None:
        raise ValueError(f"{field} contains a forbidden character U+{ord(bad):04X} ({_describe(bad)})")
    return text


def _first_forbidden(text: str, allowed: frozenset[str]) -> str | None:
    for char in text:
        if char in allowed:
            continue
        if char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs"):
            return char
    return None


def _describe(char: str) -> str:
    if unicodedata.category(char) == "Cs":
        return "an undecodable byte"
    if char in _BIDI_CONTROLS:
        return "a bidirectional override"
    return "a control character"
