"""JavaScript values for the literal evaluator (``jseval``): strings with holes, arrays, object literals and the
built-ins a downloader uses to hide strings (atob, String.fromCharCode, join, split/reverse, URLSearchParams…)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import quote, unquote, urljoin

MAX_TERMS = 2_000
MAX_STRING = 8_192
HOLE = "\u2026"  # stands for a part that could not be resolved; never a URL or id character
_ESCAPE = re.compile(r"\\(?:x([0-9a-fA-F]{2})|u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|(\r\n|[\s\S]))")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
BUILTINS = frozenset(
    {"atob", "Buffer.from", "decodeURIComponent", "decodeURI", "unescape", "encodeURIComponent", "String"}
    | {"String.fromCharCode", "String.fromCodePoint", "String.fromCharCode.apply", "String.fromCodePoint.apply"}
    | {"URLSearchParams", "URL"}
)


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


def js_unescape(raw: str) -> str:
    """Undo JavaScript string escapes (``\\x41``, ``\\u0041``, ``\\u{1F600}``, ``\\n``, line continuations)."""

    def one(m: re.Match) -> str:
        code = m.group(1) or m.group(2) or m.group(3)
        if code:
            n = int(code, 16)
            return _char(n)
        ch = m.group(4)
        if ch in ("\n", "\r\n", "\r", "\u2028", "\u2029"):
            return ""
        return _SIMPLE_ESCAPES.get(ch, ch)

    return _ESCAPE.sub(one, raw) if "\\" in raw else raw


def _char(n: int) -> str:
    # lone surrogates would make the derived text unencodable later (SQLite, JSON evidence)
    return chr(n) if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF else "\ufffd"


def b64(value: str) -> str | object:
    text = re.sub(r"\s+", "", value)
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None)
    except (binascii.Error, ValueError):
        return UNKNOWN
    out = raw.decode("utf-8", "replace")
    return out if out.isprintable() else UNKNOWN


def node_text(node) -> str:
    return node.text.decode("utf-8", "replace") if node.text is not None else ""


def node_key(node) -> str | None:
    if node.type in ("property_identifier", "identifier", "shorthand_property_identifier"):
        return node_text(node)
    if node.type == "string":
        return js_unescape(node_text(node)[1:-1])
    if node.type == "number":
        return node_text(node)
    return None


class JsObject:
    """An object literal, its property values left unevaluated until asked for."""

    def __init__(self, node):
        self.props: dict[str, object] = {}
        for c in node.named_children[:MAX_TERMS]:
            if c.type == "pair":
                key = c.child_by_field_name("key")
                k = node_key(key) if key is not None else None
                if k is not None:
                    self.props[k] = c.child_by_field_name("value")
            elif c.type == "shorthand_property_identifier":
                self.props[node_text(c)] = c

    def get(self, key: str):
        return self.props.get(key)


def concat(values: list[object]) -> object:
    if all(v is UNKNOWN for v in values):
        return UNKNOWN
    out = "".join(_str(v) for v in values)
    return out[:MAX_STRING]


def _str(v: object) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or v is UNKNOWN or isinstance(v, JsObject):
        return HOLE
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return ",".join(_str(x) for x in v)[:MAX_STRING]
    return HOLE


def _params(obj: object, evaluate: Callable) -> object:
    if isinstance(obj, str):
        return obj.lstrip("?")
    if not isinstance(obj, JsObject):
        return UNKNOWN
    pairs = [f"{quote(k)}={quote(_str(evaluate(v)), safe=HOLE)}" for k, v in obj.props.items()]
    return "&".join(pairs)[:MAX_STRING]


def builtin(name: str, args: list[object], new: bool, evaluate: Callable) -> object:
    """A call of a named built-in (``atob``, ``String.fromCharCode``, ``new URLSearchParams``…) on known values."""
    first = args[0] if args else UNKNOWN
    if name in ("atob", "Buffer.from") and isinstance(first, str):
        if name == "atob" or (len(args) > 1 and args[1] == "base64"):
            return b64(first)
        return first
    if name in ("decodeURIComponent", "decodeURI", "unescape") and isinstance(first, str):
        return unquote(first)
    if name == "encodeURIComponent" and isinstance(first, str):
        return quote(first, safe="~()*!.'" + HOLE)
    if name == "String" and isinstance(first, str | int):
        return str(first)
    if name in ("String.fromCharCode", "String.fromCodePoint"):
        return _chars(args)
    if name in ("String.fromCharCode.apply", "String.fromCodePoint.apply") and len(args) > 1:
        return _chars(args[1]) if isinstance(args[1], list) else UNKNOWN
    if name == "URLSearchParams" and new:
        return _params(first, evaluate)
    if name == "URL" and new and isinstance(first, str):
        return urljoin(args[1], first) if len(args) > 1 and isinstance(args[1], str) else first
    return UNKNOWN


def _chars(args: list[object]) -> object:
    if not args or not all(isinstance(a, int) and 0 <= a <= 0x10FFFF for a in args):
        return UNKNOWN
    return "".join(_char(a) for a in args)[:MAX_STRING]  # type: ignore[arg-type]


def method_call(target: object, method: str, args: list[object]) -> object:
    """``target.method(args)`` for the string and array methods that rebuild strings (join, split, reverse…)."""
    first = args[0] if args else UNKNOWN
    if isinstance(target, list):
        if method == "join":
            if not target or all(x is UNKNOWN for x in target):
                return UNKNOWN
            return (first if isinstance(first, str) else ",").join(_str(x) for x in target)[:MAX_STRING]
        if method == "reverse":
            return list(reversed(target))
        if method == "concat":
            return target + [x for a in args for x in (a if isinstance(a, list) else [a])]
        return UNKNOWN
    if not isinstance(target, str):
        return UNKNOWN
    if method in ("toString", "valueOf", "trim"):
        return target.strip() if method == "trim" else target
    if method == "concat":
        return concat([target, *args])
    if method == "split" and isinstance(first, str):
        return list(target) if first == "" else target.split(first)[:MAX_TERMS]
    if method in ("replace", "replaceAll") and isinstance(first, str) and len(args) > 1 and isinstance(args[1], str):
        return target.replace(first, args[1], 1 if method == "replace" else -1)[:MAX_STRING]
    if method in ("toLowerCase", "toUpperCase"):
        return target.lower() if method == "toLowerCase" else target.upper()
    return UNKNOWN
