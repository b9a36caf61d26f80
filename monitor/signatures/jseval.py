"""A small, bounded evaluator of literal JavaScript expressions: what strings a script builds from constants.

Downloaders hide the web ``client_id`` and media URLs behind constants, object properties, concatenation,
template literals, ``[..].join("")``, ``atob`` and ``String.fromCharCode``. :func:`resolve_script` parses a
script and evaluates what it can to strings; its result is a derived text (one resolved string a line, plus a
``client_id=<value>`` line for every 32-character value bound to a client_id-like name) that the ordinary
signature matching reads beside the script itself, so the normal severities apply.

Parser: tree-sitter with the tree-sitter-javascript grammar (PyPI wheels), not esprima. Its parser is C (a
650 KiB bundle parses in about 0.3 s here; pure-Python esprima is far slower on bundles); it recovers from
syntax errors (inline snippets, cut-off bodies) instead of giving up; and the grammar follows current
JavaScript (optional chaining, class fields) where esprima-python stopped at ES2017 in 2018.

Values and built-ins live in ``jsvalues``. Everything is bounded: script size, nodes visited, evaluation
steps, recursion depth, string length, output size. Nothing here raises: a parse failure or a spent budget
returns what was resolved so far (often ""). Scope is flat (one binding per name, the last one in source order,
``+=`` appended): enough for the literal forms this is meant for, never an interpretation of control flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from monitor.signatures.jsvalues import (
    BUILTINS,
    HOLE,
    MAX_STRING,
    MAX_TERMS,
    UNKNOWN,
    JsObject,
    builtin,
    concat,
    js_unescape,
    method_call,
    node_key,
    node_text,
)

MAX_SCRIPT_BYTES = 512 * 1024
MAX_NODES = 150_000
MAX_STEPS = 100_000
MAX_DEPTH = 40
MAX_OUTPUT_LINES = 2_000
MAX_OUTPUT_CHARS = 256 * 1024
# Only scripts that could hide something we look for are parsed: a plain bundle costs nothing.
WORTH_PARSING = re.compile(r"(?i)soundcloud|sndcdn|client_?id|\bcid\b|atob|fromCharCode|base64|\.join\(")
_SC_LITERAL = re.compile(r"(?i)soundcloud|sndcdn")
_CLIENT_VALUE = re.compile(r"[A-Za-z0-9]{32}")
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_CALLS_STOP = frozenset({"binary_expression", "template_substitution", "parenthesized_expression"})
_COMPUTED = frozenset({"binary_expression", "template_string", "call_expression", "new_expression"})

_PARSER = None


class _Spent(Exception):
    """The evaluation budget is used up."""


def _parser():
    global _PARSER
    if _PARSER is None:
        import tree_sitter_javascript
        from tree_sitter import Language, Parser

        _PARSER = Parser(Language(tree_sitter_javascript.language()))
    return _PARSER


def is_client_id_name(name: str) -> bool:
    """``client_id``, ``clientId``, ``SC_CLIENT_ID``, ``CID``, ``scCid``… (not ``acid``)."""
    words = [w.lower() for w in _WORDS.findall(name)]
    return words[-2:] == ["client", "id"] or (bool(words) and words[-1] in ("cid", "clientid"))


@dataclass
class _State:
    source: bytes
    env: dict[str, list] = field(default_factory=dict)  # name or dotted path -> value nodes (``+=`` appends)
    memo: dict[str, object] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    steps: int = 0


def _path(node) -> str | None:
    """``cfg.clientId`` / ``window.CID`` / ``this.x`` for a member chain of plain names, else None."""
    if node.type in ("identifier", "this", "property_identifier", "shorthand_property_identifier"):
        return node_text(node)
    if node.type == "member_expression":
        obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
        base = _path(obj) if obj is not None else None
        return f"{base}.{node_text(prop)}" if base and prop is not None else None
    return None


class _Evaluator:
    def __init__(self, state: _State):
        self.s = state

    def lookup(self, name: str, depth: int) -> object:
        if name in self.s.memo:
            return self.s.memo[name]
        pieces = self.s.env.get(name)
        if not pieces or name in self.s.busy:
            return UNKNOWN
        self.s.busy.add(name)
        try:
            values = [self.eval(p, depth + 1) for p in pieces]
        finally:
            self.s.busy.discard(name)
        value = values[0] if len(values) == 1 else concat(values)
        self.s.memo[name] = value
        return value

    def eval(self, node, depth: int = 0) -> object:
        self.s.steps += 1
        if self.s.steps > MAX_STEPS:
            raise _Spent
        if node is None or depth > MAX_DEPTH:
            return UNKNOWN
        t = node.type
        if t == "string":
            return js_unescape(node_text(node)[1:-1])[:MAX_STRING]
        if t == "number":
            try:
                n = int(node_text(node).replace("_", ""), 0)
            except ValueError:
                return UNKNOWN
            return n if abs(n) < 2**53 else UNKNOWN
        if t == "template_string":
            parts: list[object] = []
            for c in node.named_children:
                if c.type == "template_substitution":
                    parts.append(self.eval(c.named_children[0] if c.named_children else None, depth + 1))
                else:
                    parts.append(js_unescape(node_text(c)))
            return concat(parts)
        if t == "parenthesized_expression":
            return self.eval(node.named_children[-1] if node.named_children else None, depth + 1)
        if t == "binary_expression":
            return self.binary(node, depth)
        if t in ("identifier", "member_expression"):
            path = _path(node)
            if path is not None and path in self.s.env:
                return self.lookup(path, depth)
            if t == "member_expression":
                obj = self.eval(node.child_by_field_name("object"), depth + 1)
                prop = node.child_by_field_name("property")
                return self.member(obj, node_text(prop) if prop is not None else "", depth)
            return UNKNOWN
        if t == "subscript_expression":
            obj = self.eval(node.child_by_field_name("object"), depth + 1)
            index = self.eval(node.child_by_field_name("index"), depth + 1)
            return self.member(obj, index, depth)
        if t == "array":
            return [self.eval(c, depth + 1) for c in node.named_children[:MAX_TERMS]]
        if t == "object":
            return JsObject(node)
        if t in ("call_expression", "new_expression"):
            return self.call(node, depth)
        return UNKNOWN

    def binary(self, node, depth: int) -> object:
        terms = []  # a left-deep "a" + "b" + … chain is flattened here, so its length costs no recursion
        while node.type == "binary_expression" and node_text(node.child_by_field_name("operator") or node) == "+":
            terms.append(node.child_by_field_name("right"))
            node = node.child_by_field_name("left")
            if len(terms) > MAX_TERMS:
                return UNKNOWN
        if node.type == "binary_expression":
            return UNKNOWN  # another operator: arithmetic is not followed
        terms.append(node)
        return concat([self.eval(n, depth + 1) for n in reversed(terms)])

    def member(self, obj: object, prop: object, depth: int) -> object:
        if isinstance(obj, JsObject):
            found = obj.get(str(prop))
            return self.eval(found, depth + 1) if found is not None else UNKNOWN
        if isinstance(obj, list) and isinstance(prop, int) and 0 <= prop < len(obj):
            return obj[prop]
        if isinstance(obj, str) and isinstance(prop, int) and 0 <= prop < len(obj):
            return obj[prop]
        return UNKNOWN

    def call(self, node, depth: int) -> object:
        fn = node.child_by_field_name("function") or node.child_by_field_name("constructor")
        args_node = node.child_by_field_name("arguments")
        args = [self.eval(a, depth + 1) for a in (args_node.named_children[:MAX_TERMS] if args_node else [])]
        name = _path(fn) if fn is not None else None
        if name is not None:
            name = re.sub(r"^(?:window|self|globalThis)\.", "", name)
            if name in BUILTINS:
                return builtin(name, args, node.type == "new_expression", lambda n: self.eval(n, depth + 1))
        if fn is not None and fn.type == "member_expression":
            target = self.eval(fn.child_by_field_name("object"), depth + 1)
            prop = fn.child_by_field_name("property")
            return method_call(target, node_text(prop) if prop is not None else "", args)
        return UNKNOWN


def _walk(root, state: _State) -> tuple[list, list]:
    """Bind declarations and assignments (source order) and collect what to evaluate; at most MAX_NODES nodes."""
    sinks, bindings = [], []
    stack, seen = [(root, "")], 0  # parent types ride along: Node.parent costs a walk down from the root
    while stack:
        node, parent = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            break
        t = node.type
        if t == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if name is not None and name.type == "identifier" and value is not None:
                state.env[node_text(name)] = [value]
                bindings.append((node_text(name), value))
        elif t in ("assignment_expression", "augmented_assignment_expression"):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            path = _path(left) if left is not None else None
            op = node_text(node.child_by_field_name("operator") or node) if t != "assignment_expression" else "="
            if path and right is not None and op in ("=", "+="):
                state.env[path] = [*state.env.get(path, []), right] if op == "+=" else [right]
                bindings.append((path, right))
        elif t == "pair":
            key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
            k = node_key(key) if key is not None else None
            if k and value is not None:
                bindings.append((k, value))
        elif t == "shorthand_property_identifier":
            bindings.append((node_text(node), node))
        elif t == "string" and _SC_LITERAL.search(node_text(node)[:MAX_STRING]):
            sinks.append(node)  # a literal SoundCloud host: the API context client_id matching needs
        if t in _COMPUTED and parent not in _CALLS_STOP:
            sinks.append(node)
        if t == "call_expression":
            fn, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
            prop = fn.child_by_field_name("property") if fn is not None and fn.type == "member_expression" else None
            if (
                prop is not None
                and node_text(prop) in ("set", "append")
                and args is not None
                and args.named_child_count > 1
            ):
                key = args.named_children[0]
                if key.type == "string":
                    bindings.append((js_unescape(node_text(key)[1:-1]), args.named_children[1]))
        stack.extend((c, t) for c in reversed(node.children))
    return sinks, bindings


def resolve_script(source: str) -> str:
    """The derived text of one script: resolved strings and ``client_id=<value>`` bindings, one a line.

    Returns "" for a script too large (over MAX_SCRIPT_BYTES), without anything worth resolving, that does not
    parse, or that yields nothing; never raises.
    """
    if not isinstance(source, str) or not source or not WORTH_PARSING.search(source):
        return ""
    data = source.encode("utf-8", "replace")
    if len(data) > MAX_SCRIPT_BYTES:
        return ""
    try:
        tree = _parser().parse(data)
    except Exception:  # a grammar/binding failure must leave the page's scan as it was
        return ""
    state = _State(data)
    ev = _Evaluator(state)
    lines: list[str] = []
    size = 0
    try:
        sinks, bindings = _walk(tree.root_node, state)
        for name, node in bindings:
            if is_client_id_name(name.rsplit(".", 1)[-1]):
                value = ev.eval(node) if node.type != "shorthand_property_identifier" else ev.lookup(name, 0)
                if isinstance(value, str) and _CLIENT_VALUE.fullmatch(value):
                    lines.append(f"client_id={value}")
        grown = [name for name, pieces in state.env.items() if len(pieces) > 1]  # built up with +=
        for node in [*sinks, *grown]:
            if len(lines) >= MAX_OUTPUT_LINES or size > MAX_OUTPUT_CHARS:
                break
            value = ev.lookup(node, 0) if isinstance(node, str) else ev.eval(node)
            if isinstance(value, str) and len(value.replace(HOLE, "")) >= 4:
                line = " ".join(value.split())
                lines.append(line)
                size += len(line)
    except (_Spent, RecursionError, ValueError, TypeError, AttributeError):
        pass  # what was resolved before the budget ran out is still true
    out, seen = [], set()
    for line in lines:
        if line not in seen:
            seen.add(line)
            out.append(line)
    return "\n".join(out)[:MAX_OUTPUT_CHARS]
