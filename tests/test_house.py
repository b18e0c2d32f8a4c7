"""The shape of the house (issue 15): imports run one way, functions stay short, README and docs links resolve.

Static checks on the source; no torch needed.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from conftest import REPO as ROOT  # noqa: E402
PACKAGE = ROOT / "vaegan_core"
DEMO = ROOT / "demo"
MAX_FUNCTION_LINES = 80
MAX_FILE_LINES = 500
# Declarative builders (argument parsers, page layouts) may be long: they are lists, not logic.
DECLARATIVE = {("demo/gradio_app.py", "build_app")}  # the Gradio page's layout: one block per tab


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every vaegan_core module that ``path`` imports, at the top or inside a function."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("vaegan_core"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("vaegan_core"):
                continue
            for alias in node.names:  # `from . import checkpoint` imports a module, `from .x import y` a name
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _module_path(candidate) else target)
    return {module for module in found if _module_path(module) and module != name}


def _module_path(module: str) -> Path | None:
    relative = Path(*module.split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        # the package itself imports nothing statically (its exports are lazy), and every submodule
        # imports it for __version__: leave it out, as Python resolves it first
        if path == PACKAGE / "__init__.py":
            continue
        graph[_module_name(path)] = {m for m in _imports(path) if m != "vaegan_core"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if state.get(target) is None:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_no_import_cycle_in_vaegan_core():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def house_files() -> list[Path]:
    """The code the house rules cover: the package and the apps (demo/)."""
    return sorted(PACKAGE.rglob("*.py")) + sorted(DEMO.rglob("*.py"))


def long_functions() -> list[str]:
    found = []
    for path in house_files():
        relative = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES and (relative, node.name) not in DECLARATIVE:
                    found.append(f"{relative}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_long_functions_in_vaegan_core_or_the_apps():
    assert long_functions() == []


def test_no_file_over_500_lines_in_vaegan_core_or_the_apps():
    long = [f"{path.relative_to(ROOT)} ({count} lines)" for path in house_files()
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES]
    assert long == [], "split the file by job"


def demo_import_graph() -> dict[str, set[str]]:
    """The apps' modules (demo/*.py, demo/app_pages/*.py; demo/ is on sys.path, so they import each other by bare
    name: ``import ui``) and which of them each one imports."""
    modules = {path.stem: path for path in sorted(DEMO.glob("*.py"))}
    graph = {}
    for path in sorted(DEMO.rglob("*.py")):
        name = path.stem if path.parent == DEMO else f"app_pages.{path.stem}"
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module in modules:
                found.add(node.module)
        graph[name] = found - {name}
    return graph


def test_no_import_cycle_in_the_apps():
    graph = demo_import_graph()
    assert "ui" in graph and "ui" in graph["app_pages.fid"], "the graph sees the pages' `import ui`"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_apps_compute_through_the_app_layer():
    """No front end loads a model or a dataset itself: vaegan_core.app does (issue 47)."""
    found = [f"{path.relative_to(ROOT)}: {name}" for path in sorted(DEMO.rglob("*.py"))
             for name in ("load_model", "load_dataset", "zoo.open_model")
             if re.search(rf"\b{re.escape(name)}\b", path.read_text(encoding="utf-8"))]
    assert found == []


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(path: Path) -> list[tuple[str, Path]]:
    """(link, target path) for every relative Markdown link of ``path`` (anchors dropped)."""
    links = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http:, https:, mailto:, or an anchor on the same page
        links.append((target, (path.parent / target.split("#", 1)[0]).resolve()))
    return links


def test_every_relative_link_in_readme_and_docs_resolves():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(documents) > 1, "docs/ holds the details README links to"
    broken = [f"{document.relative_to(ROOT)}: {link}" for document in documents
              for link, target in relative_links(document) if not target.exists()]
    assert broken == []


def _absolute_paths(value, where: str = ""):
    """(where, text) for each string in a JSON value that names a folder of one machine (/home/..., C:\\...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _absolute_paths(item, f"{where}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _absolute_paths(item, f"{where}[{index}]")
    elif isinstance(value, str) and (value.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", value)):
        yield where, value


def test_the_shipped_json_files_name_no_folder_of_the_machine_that_wrote_them():
    """A checkpoint evaluated with an absolute path (`vaegan eval /home/me/repo/checkpoints/...`) records it in
    metrics.json; what ships names paths from the repository root, as on a visitor's machine."""
    files = sorted((ROOT / "checkpoints").rglob("*.json"))
    assert len(files) > 6
    found = [f"{path.relative_to(ROOT)}: {where} = {text}" for path in files
             for where, text in _absolute_paths(json.loads(path.read_text(encoding="utf-8")))]
    assert found == [], "evaluate from the repository root with a relative path (or edit the field)"
    assert list(_absolute_paths({"a": [{"checkpoint": "/work/x"}], "b": "C:\\x", "c": "checkpoints/x"})) == \
        [("/a[0]/checkpoint", "/work/x"), ("/b", "C:\\x")]


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 170, f"README has {len(lines)} lines; move details to docs/"


def test_the_app_is_served_as_a_class_gets_it():
    """.streamlit/config.toml (read by `streamlit run` from the repository root and by the Space image): no
    telemetry, no traceback on screen, and no file watcher (after every run of a page it resolved the paths of
    every loaded module, 0.1-0.3 s of the server per rerun on a 2-core CPU: benchmarks/README.md)."""
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["browser"]["gatherUsageStats"] is False
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["fileWatcherType"] == "none"
