"""The layout keeps its promises: no import cycle among product modules (counting imports hidden behind
`TYPE_CHECKING` or inside functions), small modules, and only the carrier adapter speaks carrier JSON."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("app.py", "api", "config", "models", "services", "utils", "devtools")
MAX_LINES = 410  # "about 400"


def product_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for entry in PRODUCT:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            parts = list(file.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = file
    return modules


def imports_of(file: Path, name: str, known: set[str]) -> set[str]:
    """Every product module this one imports, wherever the import statement is."""
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def test_no_import_cycles() -> None:
    modules = product_modules()
    graph = {name: imports_of(file, name, set(modules)) for name, file in modules.items()}
    # A package's __init__ importing its own submodules is not a cycle through the package.
    for name, targets in graph.items():
        graph[name] = {t for t in targets if not (t.startswith(name + ".") and modules[name].name == "__init__.py")}
    visiting: list[str] = []
    done: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        if node in done:
            return
        if node in visiting:
            cycles.append([*visiting[visiting.index(node) :], node])
            return
        visiting.append(node)
        for target in sorted(graph[node]):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
    assert cycles == []


def test_no_type_checking_imports_in_product_code() -> None:
    offenders = [
        str(path.relative_to(ROOT)) for path in product_modules().values() if "TYPE_CHECKING" in path.read_text()
    ]
    assert offenders == [], "a TYPE_CHECKING import hides a dependency (and usually a cycle)"


def test_product_modules_stay_small() -> None:
    sizes = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in product_modules().values()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


def test_only_the_twilio_adapter_builds_stream_frames() -> None:
    """Twilio's outbound stream JSON (`"event": "media" | "mark" | "clear"`) is written in one module."""
    writers = []
    for name, path in product_modules().items():
        text = path.read_text()
        if '"streamSid"' in text and name not in {"services.telephony.twilio_stream", "models.twilio_stream"}:
            writers.append(name)
    assert writers == []


def test_each_carrier_adapter_alone_builds_its_stream_frames() -> None:
    """Plivo's (`playAudio`, `checkpoint`, `clearAudio`) and Exotel's (`"event"` beside `"stream_sid"`) stream
    JSON each live in one adapter module, like Twilio's: nothing past it knows which carrier a call is on."""
    owners = {
        ("playAudio",): "services.telephony.plivo_stream",
        ("event", "stream_sid"): "services.telephony.exotel_stream",
    }
    writers = []
    for name, path in product_modules().items():
        text = path.read_text()
        for markers, owner in owners.items():
            if all(f'"{marker}"' in text for marker in markers) and name != owner:
                writers.append((markers, name))
    assert writers == []
