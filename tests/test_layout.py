"""The package's shape (docs/DESIGN.md): no import cycle between its parts, small modules, short functions.

Every import statement counts, also those inside functions (a lazy import is still a dependency), except
the ones under ``if TYPE_CHECKING:``, which only annotations see.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "optical_st"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80  # without the docstring
LONGER_MODULES = {
    # OTDistillLoss's documentation is its docstring (130 lines), as sentence-transformers keeps a loss's
    "losses.py": 640,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(path: Path, known: set[str]) -> set[str]:
    """The package's modules ``path`` imports (``from optical_st import hub`` counts as optical_st.hub)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for node in ast.walk(tree):
        if _type_checking_only(node, parents):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known and name != "optical_st"}


def graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) for name, path in paths.items()}


def part(module: str) -> str:
    """``optical_st.data._rows`` -> ``optical_st.data``: the package or top-level module it belongs to."""
    return ".".join(module.split(".")[:2])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules():
    assert cycles(graph()) == []


def test_no_import_cycle_between_packages():
    parts: dict[str, set[str]] = {}
    for module, targets in graph().items():
        parts.setdefault(part(module), set()).update(part(t) for t in targets if part(t) != part(module))
    assert cycles(parts) == []


def test_hub_reads_no_data_and_no_evaluation_code():
    hub = {
        target
        for module, targets in graph().items()
        if part(module) == "optical_st.hub"
        for target in targets
    }
    assert not {part(t) for t in hub} & {"optical_st.data", "optical_st.evaluation", "optical_st.pretrained"}


def test_modules_stay_small():
    sizes = {
        path.relative_to(PACKAGE).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    too_long = {name: n for name, n in sizes.items() if n > LONGER_MODULES.get(name, MAX_MODULE_LINES)}
    assert not too_long, too_long


def test_functions_stay_short():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                docstring = ast.get_docstring(node, clean=False)
                if docstring is not None:
                    first = node.body[0]
                    lines -= first.end_lineno - first.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
    assert not too_long, too_long


def test_moved_public_names_still_import_with_a_warning():
    import importlib

    import pytest

    from optical_st import results, scaling, training

    moved = {
        ("optical_st.scaling", "DistillationRecipe"): training.DistillationRecipe,
        ("optical_st.scaling", "load_results"): scaling.load_study_results,
        ("optical_st.scaling", "markdown_table"): scaling.metric_tables,
        ("optical_st.hub", "load_results"): results.load_rows,
        ("optical_st.hub", "RESULT_FIELDS"): results.RESULT_FIELDS,
    }
    for (face, name), now in moved.items():
        module = importlib.import_module(face)
        with pytest.warns(FutureWarning, match=f"{face}.{name} moved"):
            assert getattr(module, name) is now
        assert name not in module.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        scaling.nothing  # noqa: B018
