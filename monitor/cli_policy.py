"""The ``scrapewatch policy`` commands: explain robots.txt verdicts for one URL or a JSONL batch.

Exit codes follow ``monitor.cli``: 0 success, 1 some batch line failed, 2 usage error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

import click

from monitor.policy.robots import RobotsFile, Verdict, parse

EXIT_FAILED = 1


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The JSON shape of a verdict shared by `explain --json` and `explain --batch`."""
    rule = verdict.rule
    return {
        "allowed": verdict.allowed,
        "rule": None if rule is None else {"line": rule.line, "directive": rule.directive, "pattern": rule.pattern},
        "group": verdict.group,
        "group_lines": list(verdict.group_lines),
    }


def _describe(agent: str, url: str, robots: RobotsFile, verdict: Verdict) -> str:
    lines = [f"{agent} → {url}: {'ALLOWED' if verdict.allowed else 'DISALLOWED'}"]
    if verdict.rule is not None:
        rule = verdict.rule
        lines.append(f"  rule:  line {rule.line}: {rule.directive}: {rule.pattern}")
    else:
        lines.append("  rule:  none matched (allowed by default)")
    at = ", ".join(str(n) for n in verdict.group_lines)
    lines.append(f"  group: {verdict.group}" + (f" (user-agent lines {at})" if at else ""))
    for lint in robots.lints:
        where = f"line {lint.line}" if lint.line is not None else "file"
        lines.append(f"  lint:  {where}: {lint.code}: {lint.message}")
    return "\n".join(lines)


def _batch_line(text: bytes, cache: dict[str, RobotsFile]) -> dict[str, Any]:
    try:
        case = json.loads(text)
    except ValueError as exc:
        return {"error": f"not JSON: {exc}"}
    if not isinstance(case, dict):
        return {"error": "expected a JSON object with robots, agent and url"}
    for name in ("robots", "agent", "url"):
        if not isinstance(case.get(name), str):
            return {"error": f"field {name!r} must be a string"}
    robots = cache.get(case["robots"])
    if robots is None:
        robots = cache[case["robots"]] = parse(case["robots"])
    return verdict_json(robots.match(case["agent"], case["url"]))


def run_batch(source: IO[bytes], out: IO[str]) -> int:
    """Answer each JSONL line of `source` on `out`; returns how many lines failed."""
    failed = 0
    cache: dict[str, RobotsFile] = {}
    for lineno, text in enumerate(source, start=1):
        if not text.strip():
            continue
        result = {"line": lineno, **_batch_line(text, cache)}
        failed += "error" in result
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return failed


@click.group()
def policy() -> None:
    """Evaluate AI-usage policy files offline."""


@policy.command()
@click.option("--agent", help="Crawler product token (GPTBot) or a full User-Agent header.")
@click.option("--url", help="URL to check; only its path, params and query matter.")
@click.option(
    "--robots",
    "robots_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="robots.txt file to evaluate.",
)
@click.option(
    "--batch",
    type=click.File("rb"),
    help="JSONL file ('-' for stdin) of {robots, agent, url} objects; writes one JSON verdict per line.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def explain(
    agent: str | None, url: str | None, robots_path: Path | None, batch: IO[bytes] | None, as_json: bool
) -> None:
    """Explain whether AGENT may fetch URL under a robots.txt: verdict, deciding line and pattern, group."""
    if batch is not None:
        if agent or url or robots_path:
            raise click.UsageError("--batch cannot be combined with --agent, --url or --robots")
        failed = run_batch(batch, click.get_text_stream("stdout"))
        if failed:
            click.echo(f"error: {failed} batch line(s) failed", err=True)
            raise SystemExit(EXIT_FAILED)
        return
    if robots_path is None:
        raise click.UsageError("--robots FILE is required until live fetching lands")
    if agent is None or url is None:
        raise click.UsageError("--agent and --url are required with --robots")
    robots = parse(robots_path.read_bytes())
    verdict = robots.match(agent, url)
    if as_json:
        lints = [{"line": x.line, "code": x.code, "message": x.message} for x in robots.lints]
        payload = {"agent": agent, "url": url, **verdict_json(verdict), "lints": lints}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(_describe(agent, url, robots, verdict))
