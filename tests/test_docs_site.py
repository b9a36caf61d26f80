"""The README stays short, every relative link in it and in docs/ resolves, and the MkDocs site builds strictly."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README_MAX_BYTES = 8192
PAGES = sorted(DOCS.glob("*.md"))

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links in ``text`` that point into the repository (code blocks and spans ignored)."""
    text = _CODE.sub("", _FENCE.sub("", text))
    targets = [m.group(1) for m in _LINK.finditer(text)]
    return [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_link_finder_sees_links_and_skips_code():
    text = "[a](x.md) [b](https://e.org) [c](#top) `[d](no.md)`\n```\n[e](no2.md)\n```\n[f](y.md#part)"
    assert relative_links(text) == ["x.md", "y.md#part"]


def test_readme_is_short():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move reference material into docs/"


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(page):
    links = relative_links(page.read_text())
    missing = [t for t in links if not (page.parent / t.split("#", 1)[0]).resolve().exists()]
    assert not missing, f"{page.relative_to(ROOT)}: broken links {missing}"


def test_readme_links_into_every_page():
    linked = {(ROOT / t.split("#", 1)[0]).resolve() for t in relative_links((ROOT / "README.md").read_text())}
    assert {p.resolve() for p in PAGES} <= linked


def test_every_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text()
    assert [p.name for p in PAGES if f": {p.name}" not in nav] == []


def test_generated_parts_are_current():
    generate = _generator()
    assert generate.GENERATED, "no generated parts declared"
    assert not generate.stale(), "docs/ is not current: run `python docs/generate.py` and commit"


def test_generated_settings_table_has_every_setting():
    generate = _generator()
    page = (DOCS / "configuration.md").read_text()
    block = page.split("<!-- BEGIN generated: settings -->\n")[1].split("<!-- END generated: settings -->")[0]
    assert block == generate.settings_table()
    from monitor.settings import settings_reference

    assert len(block.splitlines()) == len(settings_reference()) + 2


def test_stale_generated_part_is_detected(tmp_path):
    generate = _generator()
    for name in generate.GENERATED:
        text = (DOCS / name).read_text()
        (tmp_path / name).write_text(text.replace("| `storage.data_dir` |", "| `storage.data_dir_old` |"))
    assert generate.stale(tmp_path) == ["configuration.md"]


def test_mkdocs_builds_strictly(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(ROOT / "mkdocs.yml"),
            "-d",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index.html").exists()
    assert (tmp_path / "configuration" / "index.html").exists()
    assert not (tmp_path / "generate.py").exists()
