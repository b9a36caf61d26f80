"""Write the generated parts of the docs/ pages (the settings table) from the code that declares them.

Usage: ``python docs/generate.py`` (or ``--check``: exit 1 when a committed page is not current).
A generated part sits between ``<!-- BEGIN generated: NAME -->`` and ``<!-- END generated: NAME -->``."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

if __package__ in (None, ""):  # run as a script: make ``monitor`` importable from this checkout
    sys.path.insert(0, str(ROOT))

from monitor.settings import settings_reference  # noqa: E402

LONG_DEFAULT = 60  # characters of a list / mapping default shown as code items instead of one Python literal


def _default_cell(shown: str) -> str:
    """A default as the table shows it: long lists and mappings of strings as readable code items."""
    if len(shown) > LONG_DEFAULT:
        try:
            value = ast.literal_eval(shown)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ", ".join(f"`{v}`" for v in value)
        if isinstance(value, dict) and all(isinstance(v, list) for v in value.values()):
            return "; ".join(f"{k} " + ", ".join(f"`{p}`" for p in paths) for k, paths in value.items())
    return f"`{shown}`"


def settings_table() -> str:
    """The configuration page's table: one row per setting, from the settings declarations."""
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    lines += [
        f"| `{key}` | {_default_cell(default)} | {help_text} |" for key, default, help_text in settings_reference()
    ]
    return "\n".join(lines) + "\n"


# page -> generated part name -> generator
GENERATED: dict[str, dict[str, Callable[[], str]]] = {
    "configuration.md": {"settings": settings_table},
}


def _block(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- BEGIN generated: {re.escape(name)} -->\n)(.*?)(<!-- END generated: {re.escape(name)} -->)", re.S
    )


def render(text: str, parts: dict[str, Callable[[], str]]) -> str:
    """``text`` with every named generated part replaced by what its generator writes now."""
    for name, generate in parts.items():
        pattern = _block(name)
        if not pattern.search(text):
            raise ValueError(f"no generated part {name!r}")
        body = generate()
        text = pattern.sub(lambda m, body=body: m.group(1) + body + m.group(3), text)
    return text


def stale(docs: Path = DOCS) -> list[str]:
    """Pages whose generated parts differ from what the generators write now."""
    return [
        page
        for page, parts in GENERATED.items()
        if (docs / page).read_text() != render((docs / page).read_text(), parts)
    ]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        for page in bad:
            print(f"docs/{page} is not current: run python docs/generate.py", file=sys.stderr)
        return 1 if bad else 0
    for page, parts in GENERATED.items():
        path = DOCS / page
        path.write_text(render(path.read_text(), parts))
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
