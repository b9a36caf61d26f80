"""The ``scrapewatch policy`` commands: explain robots.txt verdicts for one URL or a JSONL batch.

Exit codes follow ``monitor.cli``: 0 success, 1 some batch line failed, 2 usage error.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import click

from monitor.cli._common import (
    EXIT_FAILED,
    config_option,
    print_rows,
    settings_from,
    setup_logging,
    store_from,
)
from monitor.policy.robots import RobotsFile, Verdict, parse


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


class RobotsCache:
    """The last ``maxsize`` parsed robots.txt files of a batch, least recently used dropped first.

    A batch usually repeats a few files over many lines; an unbounded cache kept every distinct parse alive
    (5.2 GB for a 181 MB input of distinct files).
    """

    def __init__(self, maxsize: int = 64):
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._files: OrderedDict[str, RobotsFile] = OrderedDict()
        self.parses = 0

    def __len__(self) -> int:
        return len(self._files)

    def get(self, text: str) -> RobotsFile:
        robots = self._files.get(text)
        if robots is not None:
            self._files.move_to_end(text)
            return robots
        robots = self._files[text] = parse(text)
        self.parses += 1
        if len(self._files) > self.maxsize:
            self._files.popitem(last=False)
        return robots


def _batch_line(text: bytes, cache: RobotsCache) -> dict[str, Any]:
    try:
        case = json.loads(text)
    except ValueError as exc:
        return {"error": f"not JSON: {exc}"}
    if not isinstance(case, dict):
        return {"error": "expected a JSON object with robots, agent and url"}
    for name in ("robots", "agent", "url"):
        if not isinstance(case.get(name), str):
            return {"error": f"field {name!r} must be a string"}
    return verdict_json(cache.get(case["robots"]).match(case["agent"], case["url"]))


def run_batch(source: IO[bytes], out: IO[str], cache: RobotsCache | None = None) -> int:
    """Answer each JSONL line of `source` on `out`; returns how many lines failed."""
    failed = 0
    cache = cache if cache is not None else RobotsCache()
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
@config_option
@click.pass_context
def explain(
    ctx: click.Context,
    agent: str | None,
    url: str | None,
    robots_path: Path | None,
    batch: IO[bytes] | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """Explain whether AGENT may fetch URL under a robots.txt: verdict, deciding line and pattern, group.

    Without --robots, the URL's live robots.txt is fetched (through the configured proxy) and nothing is recorded.
    """
    if batch is not None:
        if agent or url or robots_path:
            raise click.UsageError("--batch cannot be combined with --agent, --url or --robots")
        failed = run_batch(batch, sys.stdout)
        if failed:
            click.echo(f"error: {failed} batch line(s) failed", err=True)
            raise SystemExit(EXIT_FAILED)
        return
    if agent is None or url is None:
        raise click.UsageError("--agent and --url are required (or --batch FILE)")
    if robots_path is None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.UsageError("--url must be an absolute http(s) URL to fetch its robots.txt")
        _, _, fetched = _live_audit(ctx, config_path, parts.netloc, parts.scheme, [agent])
        if fetched.robots is None:
            click.echo(f"robots.txt of {parts.netloc}: {fetched.reason}", err=True)
        robots = fetched.robots or parse(b"")
        verdict = fetched.match(agent, url)
    else:
        robots = parse(robots_path.read_bytes())
        verdict = robots.match(agent, url)
    if as_json:
        lints = [{"line": x.line, "code": x.code, "message": x.message} for x in robots.lints]
        payload = {"agent": agent, "url": url, **verdict_json(verdict), "lints": lints}
        click.echo(json.dumps(payload, ensure_ascii=False))
    else:
        click.echo(_describe(agent, url, robots, verdict))


def _live_audit(ctx: click.Context, config_path: Path | None, host: str, scheme: str, agents: list[str] | None):
    """Fetch and audit HOST once through the configured proxy; records nothing."""
    from monitor.agents import load_registry
    from monitor.probes.policy import audit_once
    from monitor.runtime import reactor
    from monitor.runtime.crawl import CrawlService

    settings = settings_from(ctx, config_path)
    setup_logging("WARNING")
    tokens = agents or load_registry(settings.policy.agents_file).tokens()
    return reactor.run(audit_once(CrawlService(settings), host, tokens, settings.policy, scheme))


@policy.command("audit")
@click.argument("host")
@click.option("--agent", "agents", multiple=True, help="Only these agents (repeatable; default: the registry).")
@click.option("--scheme", type=click.Choice(["https", "http"]), default="https", show_default=True, help="Scheme.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
@config_option
@click.pass_context
def audit_command(ctx: click.Context, host: str, agents: tuple[str, ...], scheme: str, as_json: bool,
                  config_path: Path | None) -> None:  # fmt: skip
    """Audit any HOST once (a watchlist site, an archive, a downloader) and print its verdict matrix.

    Fetches robots.txt, ai.txt and /.well-known/tdmrep.json through the configured proxy; records nothing.
    """
    from dataclasses import asdict

    from tabulate import tabulate

    items, cells, fetched = _live_audit(ctx, config_path, host, scheme, list(agents) or None)
    if as_json:
        files = [{"file": i.file, "status": i.status, "error_kind": i.error_kind} for i in items]
        click.echo(json.dumps({"host": host, "files": files, "cells": [asdict(c) for c in cells]}, indent=2))
        return
    for i in items:
        click.echo(f"{i.file:24} {i.status or i.error_kind}")
    click.echo(f"robots.txt: {fetched.reason}\n")
    click.echo(tabulate([_matrix_row({**asdict(c), "grp": c.group}) for c in cells], _MATRIX_COLUMNS))


_MATRIX_COLUMNS = ["agent", "path_class", "crawl", "rule", "group", "train_ai", "ai_input", "search", "restriction"]


def _matrix_row(r: dict[str, Any]) -> list[Any]:
    rule = f"{r['rule_line']}: {r['rule_directive']}: {r['rule_pattern']}" if r["rule_line"] is not None else "-"
    return [r["agent"], r["path_class"], "allowed" if r["crawl_allowed"] else "disallowed", rule, r["grp"],
            r["train_ai"] or "-", r["ai_input"] or "-", r["search"] or "-", r["restriction"]]  # fmt: skip


@policy.command("matrix")
@click.argument("domain", required=False)
@click.option("--agent", "agents", multiple=True, help="Only these agents (repeatable).")
@click.option("--at", "when", help="The matrix in force at this ISO-8601 time instead of now.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
@config_option
@click.pass_context
def matrix(ctx: click.Context, domain: str | None, agents: tuple[str, ...], when: str | None, as_json: bool,
           config_path: Path | None) -> None:  # fmt: skip
    """The verdict matrix of DOMAIN (default: every protected domain): agent x path class -> crawl verdict,
    matched rule and group, usage verdicts (train-ai, ai-input, search) and restriction class."""
    from datetime import UTC, datetime

    from tabulate import tabulate

    from monitor.store import verdicts as store_verdicts

    store = store_from(ctx, config_path)
    domains = [domain] if domain else [d.domain for d in settings_from(ctx, config_path).protected_domains]
    moment = when or datetime.now(UTC).isoformat(timespec="microseconds")
    wanted = {a.lower() for a in agents}
    rows = [
        r for d in domains for r in store_verdicts.at(store.db, d, moment) if not wanted or r["agent"].lower() in wanted
    ]
    if print_rows(rows, as_json, "no verdicts recorded yet (the daemon records them on each policy audit)"):
        return
    for d in domains:
        mine = [_matrix_row(r) for r in rows if r["domain"] == d]
        if mine:
            click.echo(f"\n{d}")
            click.echo(tabulate(mine, _MATRIX_COLUMNS))


@policy.command("history")
@click.argument("domain")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@config_option
@click.pass_context
def history(ctx: click.Context, domain: str, limit: int, as_json: bool, config_path: Path | None) -> None:
    """Versions of DOMAIN's policy: its policy files (with what changed) and every verdict change."""
    from monitor.store import verdicts as store_verdicts

    store = store_from(ctx, config_path)
    snapshots = store.snapshots(domain)
    verdicts = store_verdicts.history(store.db, domain)
    if as_json:
        click.echo(json.dumps({"snapshots": snapshots, "verdicts": verdicts}, indent=2, default=str))
        return
    click.echo(f"policy files of {domain}:")
    for s in snapshots:
        what = f"sha256 {s['sha256'][:12]}" if s["sha256"] else f"HTTP {s['status']}" if s["status"] else "no answer"
        click.echo(f"  {s['first_seen'][:19]} .. {s['last_seen'][:19]}  {s['file']:10} {s['state']:11} {what}")
    changes = _meaningful(verdicts)
    click.echo(f"\nverdict changes of {domain} (newest first; rule-line-only moves left out):")
    for v, what in changes[:limit]:
        crawl = "allowed" if v["crawl_allowed"] else "disallowed"
        rule = f"line {v['rule_line']} {v['rule_directive']}: {v['rule_pattern']}" if v["rule_line"] else "no rule"
        click.echo(f"  {v['valid_from'][:19]}  {v['agent']:28} {v['path_class']:8} {crawl:10} {what:32} {rule}")


_MEANINGFUL = ("crawl_allowed", "train_ai", "ai_input", "search", "restriction")


def _meaningful(verdicts: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """Each cell's first version and every version whose verdicts (not just rule lines) changed, newest first."""
    by_cell: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for v in sorted(verdicts, key=lambda v: v["valid_from"]):
        by_cell.setdefault((v["agent"], v["path_class"]), []).append(v)
    out: list[tuple[dict[str, Any], str]] = []
    for versions in by_cell.values():
        out.append((versions[0], "first seen"))
        for old, new in itertools.pairwise(versions):
            changed = [k for k in _MEANINGFUL if old[k] != new[k]]
            if changed:
                out.append((new, "changed: " + ", ".join(changed)))
    out.sort(key=lambda pair: pair[0]["valid_from"], reverse=True)
    return out
