"""The shape of the code (docs/architecture.md): the maths layers take arrays and small
problem objects and import no upper layer; the packages import each other without a
circle; kinematics live with the hardware, not in the engine."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
UPPER = ("twin.engine", "twin.traces", "viz", "twin.controller", "twin.world", "twin.scene",
         "twin.experiments", "twin.cli", "twin.policies")


def _imports(path: Path) -> set[str]:
    """Every module a file imports (top level and inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _package(module: str) -> str | None:
    """twin.X (or viz) a module belongs to."""
    parts = module.split(".")
    if parts[0] == "viz":
        return "viz"
    if parts[0] == "twin" and len(parts) > 1:
        return "twin." + parts[1]
    return None


def _files():
    for base in ("twin", "viz"):
        for path in (ROOT / base).rglob("*.py"):
            mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            yield mod.removesuffix(".__init__"), path


def test_physics_and_optim_import_no_upper_layer():
    for mod, path in _files():
        if mod.startswith(("twin.physics", "twin.optim")):
            bad = [m for m in _imports(path) if m.startswith(UPPER)]
            assert not bad, f"{mod} imports {bad}"


def test_packages_import_each_other_without_a_circle():
    graph: dict[str, set[str]] = {}
    for mod, path in _files():
        src = _package(mod)
        for m in _imports(path):
            dst = _package(m)
            if src and dst and dst != src:
                graph.setdefault(src, set()).add(dst)
    seen, stack = set(), []

    def visit(node):
        if node in stack:
            raise AssertionError("import circle: " + " -> ".join(stack[stack.index(node):] + [node]))
        if node in seen:
            return
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        stack.pop()
        seen.add(node)

    for node in sorted(graph):
        visit(node)


def test_kinematics_live_outside_the_engine():
    import twin.hardware.kinematics as kin

    assert not (ROOT / "twin" / "engine" / "actuator.py").exists()
    assert kin.slide([[0.0]], [[1.0]], [0.5], 1.0)[0, 0] == 0.5          # speed × time, no further
