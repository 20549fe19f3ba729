"""A function-level import of the hub's own code says why it is not at the top of its module.

The import direction is the architecture (pyproject's import-linter contracts): an import hidden in
a function to dodge a cycle hides a wrong arrow. One that must stay there (a module that imports
this one, a heavy stack only one command needs) carries a comment on its line, or heads a group of
imports under a comment, so the reason is read where the import is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src" / "handoff"


def _is_hub_import(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "handoff"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "handoff" for alias in node.names)
    return False


def _function_level_imports(tree: ast.Module) -> list[ast.stmt]:
    found: dict[int, ast.stmt] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.stmt) and _is_hub_import(inner):
                    found[inner.lineno] = inner
    return [found[line] for line in sorted(found)]


def unexplained(text: str) -> list[int]:
    """The line numbers of function-level hub imports in ``text`` with no comment on their lines
    nor above the group of import statements they belong to."""
    tree = ast.parse(text)
    lines = text.splitlines()
    starts = {
        node.lineno: node.end_lineno or node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
    }
    ends = {end: start for start, end in starts.items()}
    missing = []
    for node in _function_level_imports(tree):
        own = lines[node.lineno - 1 : node.end_lineno or node.lineno]
        if any("#" in line for line in own):
            continue
        # Walk up through the imports directly above; the line before the group may explain it.
        above = node.lineno - 1
        while above in ends:
            above = ends[above] - 1
        if above >= 1 and lines[above - 1].strip().startswith("#"):
            continue
        missing.append(node.lineno)
    return missing


def test_the_rule_sees_an_unexplained_import_and_accepts_explained_ones() -> None:
    text = (
        "def bare():\n"
        "    from handoff.config import load_settings\n"
        "    return load_settings\n"
        "\n"
        "def on_its_line():\n"
        "    from handoff.api.app import create_app  # serving only: FastAPI loads with it\n"
        "    return create_app\n"
        "\n"
        "def under_a_comment():\n"
        "    # Here, not at the top: handoff.engine.flows imports this module.\n"
        "    from handoff.engine import flows\n"
        "    from handoff.flows.polling import hub_schedules\n"
        "    return flows, hub_schedules\n"
        "\n"
        "def relative():\n"
        "    from .service import bound_orders\n"
        "    return bound_orders\n"
        "\n"
        "def not_ours():\n"
        "    import json\n"
        "    return json\n"
    )
    assert unexplained(text) == [2, 16]


@pytest.mark.parametrize(
    "path", sorted(SOURCE.rglob("*.py")), ids=lambda p: str(p.relative_to(SOURCE))
)
def test_function_level_hub_imports_say_why(path: Path) -> None:
    missing = unexplained(path.read_text(encoding="utf-8"))
    assert not missing, (
        f"{path.relative_to(SOURCE.parent)}: lines {missing} import handoff code inside a "
        "function without a comment saying why. Move the import to the top of the module (a "
        "cycle it dodged is a wrong arrow: see pyproject's import-linter contracts), or say why "
        "it must stay there on its line or just above its group of imports."
    )
