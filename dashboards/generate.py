"""Write the Grafana dashboards (dashboards/grafana/*.json) from their code in dashboards/generator/.

Usage: ``python dashboards/generate.py`` (or ``--check``: exit 1 when the committed JSON is not current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "dashboards" / "grafana"

if __package__ in (None, ""):  # run as a script: make ``dashboards.generator`` importable
    sys.path.insert(0, str(ROOT))

from dashboards.generator import build  # noqa: E402


def dump(dashboard: dict) -> str:
    """The file text of one dashboard: stable key order and indentation, so diffs stay readable."""
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def stale(out: Path = OUT) -> list[str]:
    """Dashboard files that differ from what the generator writes, are missing, or are left over."""
    wanted = {name: dump(d) for name, d in build().items()}
    present = {p.name for p in out.glob("*.json")}
    changed = [n for n, text in wanted.items() if not (out / n).exists() or (out / n).read_text() != text]
    return sorted(changed + [n for n in present if n not in wanted])


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    wanted = build()
    for old in out.glob("*.json"):
        if old.name not in wanted:
            old.unlink()
    paths = []
    for name, dashboard in wanted.items():
        path = out / name
        path.write_text(dump(dashboard))
        paths.append(path)
    return paths


def main(argv: list[str]) -> int:
    if "--check" in argv:
        bad = stale()
        for name in bad:
            print(f"dashboards/grafana/{name} is not current: run python dashboards/generate.py", file=sys.stderr)
        return 1 if bad else 0
    for path in write():
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
