"""A small RFC 9651 Structured-Fields Dictionary parser (enough for AIPREF), returning errors instead of raising."""

from __future__ import annotations

import string
from dataclasses import dataclass

MAX_FIELD_CHARS = 16 * 1024
_LCALPHA = frozenset(string.ascii_lowercase)
_KEY_CHARS = _LCALPHA | frozenset(string.digits + "_-.*")
_TCHAR = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~:/")
_DIGITS = frozenset(string.digits)
_B64 = frozenset(string.ascii_letters + string.digits + "+/=")


@dataclass(frozen=True)
class Item:
    """A bare item: kind is token, string, integer, decimal, boolean, bytes, date, displaystring or inner-list."""

    kind: str
    value: object


class _Fail(Exception):
    pass


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def key(self) -> str:
        c = self.peek()
        if not c or (c not in _LCALPHA and c != "*"):
            raise _Fail(f"invalid key start {c!r} at {self.i}")
        start = self.i
        while self.peek() and self.peek() in _KEY_CHARS:
            self.i += 1
        return self.s[start : self.i]

    def bare_item(self) -> Item:
        c = self.peek()
        if c == "-" or (c and c in _DIGITS):
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or (c and c in string.ascii_letters):
            start = self.i
            self.i += 1
            while self.peek() and self.peek() in _TCHAR:
                self.i += 1
            return Item("token", self.s[start : self.i])
        if c == ":":
            self.i += 1
            start = self.i
            while self.peek() and self.peek() in _B64:
                self.i += 1
            if self.peek() != ":":
                raise _Fail("unterminated byte sequence")
            self.i += 1
            return Item("bytes", self.s[start : self.i - 1])
        if c == "?":
            self.i += 1
            if self.peek() not in ("0", "1") or not self.peek():
                raise _Fail("invalid boolean")
            self.i += 1
            return Item("boolean", self.s[self.i - 1] == "1")
        if c == "@":
            self.i += 1
            num = self.number()
            if num.kind != "integer":
                raise _Fail("invalid date")
            return Item("date", num.value)
        if c == "%":
            self.i += 1
            s = self.string()
            return Item("displaystring", s.value)
        raise _Fail(f"invalid item start {c!r} at {self.i}")

    def number(self) -> Item:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        while self.peek() and (self.peek() in _DIGITS or self.peek() == "."):
            self.i += 1
        text = self.s[start : self.i]
        digits = text.lstrip("-")
        if not digits or digits[0] not in _DIGITS or text.count(".") > 1 or len(digits) > 16:
            raise _Fail(f"invalid number {text!r}")
        if "." in text:
            whole, frac = digits.split(".")
            if not frac or len(frac) > 3 or len(whole) > 12:
                raise _Fail(f"invalid decimal {text!r}")
            return Item("decimal", float(text))
        return Item("integer", int(text))

    def string(self) -> Item:
        self.i += 1
        out: list[str] = []
        while True:
            c = self.peek()
            if not c:
                raise _Fail("unterminated string")
            self.i += 1
            if c == "\\":
                n = self.peek()
                if n not in ('"', "\\") or not n:
                    raise _Fail("invalid escape")
                out.append(n)
                self.i += 1
            elif c == '"':
                return Item("string", "".join(out))
            elif not (0x20 <= ord(c) <= 0x7E):
                raise _Fail("non-ASCII or control character in string")
            else:
                out.append(c)

    def params(self) -> None:
        # Parameters are parsed for validity but ignored (AIPREF: "Parameters are ignored").
        while self.peek() == ";":
            self.i += 1
            self.sp()
            self.key()
            if self.peek() == "=":
                self.i += 1
                self.bare_item()

    def member(self) -> Item:
        if self.peek() == "(":
            self.i += 1
            items = []
            while True:
                self.sp()
                if self.peek() == ")":
                    self.i += 1
                    break
                if not self.peek():
                    raise _Fail("unterminated inner list")
                items.append(self.bare_item())
                self.params()
                if self.peek() not in (" ", ")"):
                    raise _Fail("bad inner list")
            self.params()
            return Item("inner-list", tuple(items))
        item = self.bare_item()
        self.params()
        return item


def parse_dictionary(text: str) -> tuple[dict[str, Item] | None, str | None]:
    """(members, None) on success, (None, reason) on failure; a duplicate key keeps the last value."""
    if len(text) > MAX_FIELD_CHARS:
        return None, f"field longer than {MAX_FIELD_CHARS} characters"
    p = _Parser(text.strip(" \t"))
    out: dict[str, Item] = {}
    try:
        while p.peek():
            k = p.key()
            if p.peek() == "=":
                p.i += 1
                out[k] = p.member()
            else:
                out[k] = Item("boolean", True)
                p.params()
            out[k] = out.pop(k)  # last occurrence also decides the order
            p.ows()
            if not p.peek():
                break
            if p.peek() != ",":
                raise _Fail(f"expected ',' at {p.i}")
            p.i += 1
            p.ows()
            if not p.peek():
                raise _Fail("trailing comma")
    except _Fail as e:
        return None, str(e)
    return out, None
