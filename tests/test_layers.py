"""The packages of src/ssae are layers: a module imports only from its own package or from those
below it (README "The packages"). Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ssae"
# bottom to top; ``ssae.startup`` (the stages' start-up) sits on top of all of them
LAYERS = ("core", "data", "method", "evaluation", "deploy", "experiments", "startup")


def layer(module: str) -> int:
    """Rank of ``ssae.<package>...`` in ``LAYERS``."""
    return LAYERS.index(module.split(".")[1])


def imported(path: Path) -> set[str]:
    """The ssae modules or packages that ``path`` imports (at any depth of its code)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ssae"):
            out |= {node.module} if node.module != "ssae" else {f"ssae.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ssae.")}
    return out


def modules() -> dict[str, Path]:
    return {
        "ssae." + ".".join(p.relative_to(SRC).with_suffix("").parts): p
        for p in SRC.rglob("*.py")
        if p.name != "__init__.py"
    }


def test_every_module_is_in_a_layer():
    assert len(modules()) > 30
    for name in modules():
        assert name.split(".")[1] in LAYERS, f"{name}: not in a package of LAYERS"


def test_imports_point_only_down():
    upward = [
        f"{name} imports {other}"
        for name, path in modules().items()
        for other in imported(path)
        if layer(other) > layer(name)
    ]
    assert not upward, upward


def test_the_check_sees_an_upward_import(tmp_path):
    # the check itself can fail: a core module importing from data is caught
    f = tmp_path / "bad.py"
    f.write_text("def f():\n    from ssae.data.dataset_format import index_category\n")
    assert any(layer(other) > layer("ssae.core.bad") for other in imported(f))
