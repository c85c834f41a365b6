"""Tokenizer for FEEL.

FEEL names may contain spaces ("Years of Service") and keywords, so a name cannot
be recognised from its characters alone. The lexer is therefore given the names
the model declares and prefers the longest declared name at each position; a
multi-word built-in function name ("string length") is recognised only when a
call parenthesis follows.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext

KEYWORDS = frozenset(
    {
        "and", "or", "not", "if", "then", "else", "true", "false", "null", "in",
        "between", "instance", "of", "for", "some", "every", "satisfies", "return", "function",
    }
)

# Operators longest first so that "<=" wins over "<" and ".." over ".".
_OPERATORS = ("..", "**", "<=", ">=", "!=", "=", "<", ">", "+", "-", "*", "/", "(", ")",
              "[", "]", "{", "}", ",", ".", ":", "?")

_WS = re.compile(r"\s+|//[^\n]*|/\*.*?\*/", re.DOTALL)
_NUMBER = re.compile(r"(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[^\W\d]\w*")
_NAME_END = r"(?![\w])"


class FeelSyntaxError(ValueError):
    """The text is not valid FEEL; ``position`` is a 0-based offset into it."""

    def __init__(self, message: str, text: str = "", position: int | None = None):
        if text and position is not None:
            shown = gettext("%(problem)s at position %(position)s in '%(text)s'", problem=message,
                            position=position + 1, text=text)
        elif text:
            shown = gettext("%(problem)s in '%(text)s'", problem=message, text=text)
        else:
            shown = message
        super().__init__(shown)
        self.reason = message
        self.text = text
        self.position = position


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "str", "name", "kw", "op", "at", "eof"
    value: str
    pos: int


def _names_pattern(names: Iterable[str], suffix: str) -> re.Pattern[str] | None:
    # Only names that a plain identifier scan would split need the special lookup.
    multi = sorted({n.strip() for n in names if n and not _IDENT.fullmatch(n.strip())},
                   key=len, reverse=True)
    if not multi:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(w) for w in n.split()) for n in multi)
    return re.compile(f"(?:{alternatives}){suffix}")


class NameTable:
    """The declared names (with spaces or symbols) and multi-word function names."""

    def __init__(self, names: Iterable[str] = (), functions: Iterable[str] = ()):
        self.names = frozenset(n.strip() for n in names if n and n.strip())
        self._names = _names_pattern(self.names, _NAME_END)
        self._functions = _names_pattern(functions, _NAME_END + r"(?=\s*\()")

    def match(self, text: str, pos: int) -> str | None:
        for pattern in (self._names, self._functions):
            if pattern is not None:
                m = pattern.match(text, pos)
                if m:
                    return " ".join(m.group().split())
        return None


def tokenize(text: str, names: NameTable) -> list[Token]:
    tokens: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        m = _WS.match(text, pos)
        if m:
            pos = m.end()
            continue
        ch = text[pos]
        if ch == '"':
            value, pos_after = _read_string(text, pos)
            tokens.append(Token("str", value, pos))
            pos = pos_after
            continue
        if ch == "@" and pos + 1 < end and text[pos + 1] == '"':
            value, pos_after = _read_string(text, pos + 1)
            tokens.append(Token("at", value, pos))
            pos = pos_after
            continue
        if ch.isdigit() or (ch == "." and pos + 1 < end and text[pos + 1].isdigit()):
            m = _NUMBER.match(text, pos)
            tokens.append(Token("num", m.group(), pos))
            pos = m.end()
            continue
        declared = names.match(text, pos)
        if declared is not None:
            tokens.append(Token("name", declared, pos))
            pos = names_end(text, pos, declared)
            continue
        m = _IDENT.match(text, pos)
        if m:
            word = m.group()
            tokens.append(Token("kw" if word in KEYWORDS else "name", word, pos))
            pos = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, pos):
                tokens.append(Token("op", op, pos))
                pos += len(op)
                break
        else:
            raise FeelSyntaxError(gettext("unexpected character '%(char)s'", char=ch), text, pos)
    tokens.append(Token("eof", "", end))
    return tokens


def names_end(text: str, pos: int, name: str) -> int:
    """Offset just past ``name`` in ``text`` starting at ``pos`` (whitespace may vary)."""
    for word in name.split():
        while text[pos].isspace():
            pos += 1
        pos += len(word)
    return pos


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "'": "'"}


def _read_string(text: str, start: int) -> tuple[str, int]:
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            return "".join(out), pos + 1
        if ch == "\\" and pos + 1 < len(text):
            nxt = text[pos + 1]
            if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[pos + 2 : pos + 6] or ""):
                out.append(chr(int(text[pos + 2 : pos + 6], 16)))
                pos += 6
                continue
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                pos += 2
                continue
        out.append(ch)
        pos += 1
    raise FeelSyntaxError(gettext("unterminated string literal"), text, start)
