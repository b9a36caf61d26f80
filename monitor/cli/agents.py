"""The ``scrapewatch agents`` commands: list the AI crawler registry and replace it from a file or URL.

Exit codes follow ``monitor.cli``: 0 success, 1 the download failed, 2 invalid registry or usage.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from tabulate import tabulate

from monitor.agents import (
    BUNDLED_PATH,
    Agent,
    Registry,
    RegistryDiff,
    RegistryError,
    diff_registries,
    load_registry,
    read_registry_source,
    write_registry,
)
from monitor.cli._common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    fail,
    reported,
)

DEFAULT_TARGET = Path("data") / "ai_agents.csv"


def _respects(agent: Agent) -> str:
    return {True: "yes", False: "no", None: "unclear"}[agent.respects_robots]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def agents() -> None:
    """The registry of known AI crawlers that policy checks are run for."""


@agents.command("list")
@click.option("--category", help="Only agents in this category (case-insensitive), e.g. 'AI Data Scrapers'.")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Registry file to read (default: the one bundled with scrapewatch).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_agents(category: str | None, path: Path | None, as_json: bool) -> None:
    """List the known AI crawlers.

    Columns: token, operator, category, whether it respects robots.txt, and whether the token is a valid
    RFC 9309 product token (letters, "-" and "_" only), i.e. whether a robots.txt group can name it.
    """
    try:
        registry = load_registry(path)
    except RegistryError as exc:
        fail(str(exc), EXIT_CONFIG)
        return
    selected = [a for a in registry if category is None or a.category.lower() == category.lower()]
    if as_json:
        click.echo(json.dumps([agent.to_json() for agent in selected], indent=2))
        return
    if category is not None and not selected:
        known = ", ".join(registry.by_category())
        fail(f"no agents in category {category!r}; categories: {known}", EXIT_CONFIG)
    rows = [(a.token, a.operator, a.category, _respects(a), "yes" if a.rfc9309_valid else "no") for a in selected]
    click.echo(tabulate(rows, headers=["token", "operator", "category", "respects robots", "rfc9309-valid"]))
    click.echo(f"\n{len(selected)} of {len(registry)} agents ({registry.source})")


def _baseline(target: Path) -> Registry:
    # The daemon falls back to the bundled list when the configured file is absent, so that is what changes.
    if not target.exists():
        return load_registry(BUNDLED_PATH)
    try:
        return load_registry(target)
    except RegistryError as exc:
        click.echo(f"warning: the current file is invalid and will be replaced: {exc}", err=True)
        return Registry(())


def _describe(diff: RegistryDiff) -> list[str]:
    lines = [f"+ {a.token} ({a.operator})" for a in diff.added]
    lines += [f"- {a.token} ({a.operator})" for a in diff.removed]
    for _old, new, columns in diff.changed:
        lines += [f"~ {new.token}: {name}: {before!r} -> {after!r}" for name, (before, after) in columns.items()]
    return lines


@agents.command("update")
@click.option("--from", "source", required=True, metavar="FILE|URL", help="New registry: a CSV/JSON file or URL.")
@click.option(
    "--to",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_TARGET,
    show_default=True,
    help="Registry file to replace (the daemon reads the configured policy.agents_file).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the diff as JSON.")
def update_agents(source: str, target: Path, as_json: bool) -> None:
    """Replace the registry from a file or URL, printing the diff.

    The new list (CSV with the bundled file's columns, or a JSON list of objects with the same fields) is
    validated, diffed by token against the current one (the bundled list if --to does not exist yet) and
    written atomically. URLs must be http(s); they are fetched with a timeout and a 1 MiB limit. An invalid
    registry changes nothing and exits 2 naming the line and column at fault; a failed download exits 1.
    """
    with reported(RegistryError):
        new = read_registry_source(source)
    diff = diff_registries(_baseline(target), new)
    try:
        write_registry(new, target)
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}", EXIT_FAILED)
    if as_json:
        changed = [{"token": new.token, "columns": columns} for _old, new, columns in diff.changed]
        report = {
            "added": [a.token for a in diff.added],
            "removed": [a.token for a in diff.removed],
            "changed": changed,
            "agents": len(new),
            "written": str(target),
        }
        click.echo(json.dumps(report, indent=2))
        return
    for line in _describe(diff) or ["no changes"]:
        click.echo(line)
    summary = f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    click.echo(f"wrote {len(new)} agents to {target} ({summary})")
