"""The house's rules, checked on the source: no import cycles (function-level imports count), pure evaluators,
spiders that only fetch, alerts that never write incidents, modules of a readable size, one reader of the
environment."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("monitor", "spiders")
MAX_LINES = 400
# A module may pass MAX_LINES only with a reason here.
LONG_MODULES = {
    "spiders/spiders/archives.py": "Wayback and Common Crawl pagination and rate limits read best as one spider",
}
# Evaluators are pure: findings from inputs, no I/O, no storage, no metrics, no clock of their own.
EVALUATORS = (
    "monitor.policy",
    "monitor.signatures",
    "monitor.evaluators",
    "monitor.incidents",
    "monitor.cases.grouping",
    "monitor.audio.model",
    "monitor.audio.index",
    "monitor.audio.matcher",
)
IMPURE = (
    "monitor.store",
    "monitor.db",
    "monitor.runtime",
    "monitor.metrics",
    "monitor.web",
    "monitor.alerts",
    "monitor.probes",
    "monitor.cli",
    "scrapy",
    "twisted",
    "playwright",
    "scrapy_playwright",
    "prometheus_client",
    "sqlite3",
    "sqlite_utils",
    "apprise",
    "urllib.request",
    "http.client",
    "aiohttp",
    "requests",
)
SPIDER_FORBIDDEN = (
    "monitor.store",
    "monitor.db",
    "monitor.metrics",
    "monitor.alerts",
    "monitor.probes",
    "monitor.runtime",
    "prometheus_client",
    "sqlite_utils",
)
# What writes incidents; the alert sender only delivers what the store's transactions queued.
INCIDENT_WRITERS = {"apply", "_apply_evaluation", "_write_transition", "change_incident"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


@cache
def _tree(name: str) -> ast.Module:
    return ast.parse(_modules()[name].read_text(), filename=str(_modules()[name]))


def _imports(name: str) -> set[str]:
    """Every module ``name`` imports, at any level (function bodies included), as absolute dotted names."""
    out: set[str] = set()
    is_package = _modules()[name].name == "__init__.py"
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            out.add(module)
            # ``from monitor import metrics`` imports the module monitor.metrics
            out.update(f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in _modules())
    return out


def _internal_imports(name: str) -> set[str]:
    """Project modules ``name`` depends on (a package's ``__init__`` counts for ``from pkg.sub import``)."""
    mods = _modules()
    out = set()
    for target in _imports(name):
        while target and target not in mods:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_source_tree_is_found():
    names = _modules()
    assert {"monitor.probes.base", "monitor.store", "monitor.settings", "spiders.spiders.watch"} <= set(names)
    assert "monitor.settings" in _internal_imports("monitor.probes.base")


def test_no_import_cycles_counting_function_level_imports():
    graph = {name: _internal_imports(name) for name in _modules()}
    # Package __init__ files re-export their submodules; an edge from a submodule to its own package's
    # __init__ is not a cycle Python trips over when the __init__ imports that submodule by its full name.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not (name.startswith(d + ".") and _modules()[d].name == "__init__.py")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_check_finds_a_cycle(tmp_path, monkeypatch):
    """The check itself can fail: two modules importing each other inside functions form a cycle."""
    assert _internal_imports("monitor.cli.root") >= {"monitor.cli._common"}
    fake = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    fake["a"].write_text("def f():\n    import b\n")
    fake["b"].write_text("from a import f\n")
    monkeypatch.setattr(f"{__name__}._modules", lambda: fake)
    _tree.cache_clear()
    try:
        assert _internal_imports("a") == {"b"} and _internal_imports("b") == {"a"}
    finally:
        _tree.cache_clear()


@pytest.mark.parametrize("name", sorted(n for n in _modules() if _within(n, EVALUATORS)))
def test_evaluators_are_pure(name):
    bad = sorted(m for m in _imports(name) if _within(m, IMPURE))
    assert not bad, f"{name} is an evaluator but imports {bad}"


@pytest.mark.parametrize("name", sorted(n for n in _modules() if n.startswith("spiders")))
def test_spiders_only_fetch(name):
    bad = sorted(m for m in _imports(name) if _within(m, SPIDER_FORBIDDEN))
    assert not bad, f"{name} is a spider module but imports {bad}"


@pytest.mark.parametrize("name", sorted(n for n in _modules() if n.startswith("monitor.alerts")))
def test_alerts_never_write_incidents(name):
    calls = {
        node.func.attr
        for node in ast.walk(_tree(name))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & INCIDENT_WRITERS, f"{name} calls {sorted(calls & INCIDENT_WRITERS)}"
    assert "monitor.evaluators.health" not in _imports(name)


def test_command_modules_never_import_the_root_group():
    commands = [n for n in _modules() if n.startswith("monitor.cli.") and n not in ("monitor.cli.root",)]
    assert commands
    for name in commands:
        assert "monitor.cli.root" not in _internal_imports(name), f"{name} imports the root group"
        assert "monitor.cli" not in _internal_imports(name) or name == "monitor.cli", name


def test_modules_stay_short_and_say_what_they_are_for():
    too_long, undocumented = [], []
    for name, path in _modules().items():
        rel = str(path.relative_to(ROOT))
        lines = path.read_text().count("\n")
        if lines > MAX_LINES and rel not in LONG_MODULES:
            too_long.append(f"{rel} ({lines} lines)")
        if ast.get_docstring(_tree(name)) is None:
            undocumented.append(rel)
    assert not too_long, f"modules over {MAX_LINES} lines without a listed reason: {too_long}"
    assert not undocumented, f"modules without a docstring: {undocumented}"
    stale = [rel for rel in LONG_MODULES if (ROOT / rel).read_text().count("\n") <= MAX_LINES]
    assert not stale, f"listed as long but no longer are: {stale}"


def test_only_the_settings_package_reads_the_environment():
    readers = []
    for name in _modules():
        if _within(name, ("monitor.settings",)):
            continue
        for node in ast.walk(_tree(name)):
            if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")) or (
                isinstance(node, ast.Name) and node.id == "getenv"
            ):
                readers.append(f"{name}:{node.lineno}")
    assert not readers, f"the environment is read outside monitor.settings: {readers}"


def test_every_probe_kind_is_registered_once_with_its_own_module():
    from monitor.probes import registry
    from monitor.probes.base import Probe

    assert list(registry.KINDS) == ["policy_snapshot", "exposure_watch", "canary", "archives", "datasets", "host_intel"]
    modules = {cls.__module__ for cls in registry.KINDS.values()}
    assert len(modules) == len(registry.KINDS)
    for cls in registry.KINDS.values():
        assert cls.__module__.startswith("monitor.probes.") and hasattr(cls, "build")
        assert all(hasattr(cls, m) for m in ("jobs", "observe", "committed")) and issubclass(cls, object)
    assert Probe.__name__ == "Probe"
