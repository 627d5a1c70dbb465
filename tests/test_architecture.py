"""The package's shape: imports flow one way (no cycles), no module reaches for another's
private names, and a reader never writes to the index it reads."""

from __future__ import annotations

import ast
import hashlib
import shutil
import stat
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "policymine"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported policymine module, names taken from it, line) for every import in a file,
    at module level or inside functions (a lazy import is still a dependency)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "policymine":
                continue
            names = [a.name for a in node.names]
            if node.module is None:  # from . import clean, ocr: modules, not names
                found += [(f"{target}.{n}", [], node.lineno) for n in names]
            else:
                found.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            found += [
                (a.name, [], node.lineno) for a in node.names if a.name.startswith("policymine")
            ]
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for target, _, _ in _imports(path):
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]  # a name imported from a package
            if target in modules and target != module and target != "policymine":
                graph[module].add(target)
    return graph


def test_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_cycle_check_sees_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: a made-up package with a lazy import back is caught."""
    fake = tmp_path / "policymine"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "a.py").write_text("from .b import thing\n")
    (fake / "b.py").write_text("def thing():\n    from .a import other\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    with pytest.raises(pytest.fail.Exception, match="import cycle: policymine.a -> policymine.b"):
        test_no_import_cycle()


def test_no_private_name_imported_across_modules():
    offences = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name} from {target}"
        for path in PACKAGE.rglob("*.py")
        for target, names, line in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert offences == []


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.mark.slow
def test_searching_never_writes_to_the_index(real_index, tmp_path):
    """Search, info and practices on a read-only copy: no file made, changed or removed."""
    from typer.testing import CliRunner

    from policymine.cli import app

    copy = tmp_path / "readonly"
    shutil.copytree(real_index, copy, ignore=shutil.ignore_patterns("*-wal", "*-shm", ".*"))
    for p in [copy, *copy.iterdir()]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = _snapshot(copy)
    try:
        runner = CliRunner()
        for args in (
            ["search", "rooftop solar incentives", "-k", "3"],
            ["search", "Mieterstrom", "--mode", "keyword"],
            ["similar", "--text", "a citizens' climate council"],
            ["info"],
            ["practices", "--topic", "energy", "-n", "3"],
        ):
            result = runner.invoke(app, [*args, "--index-dir", str(copy)])
            assert result.exit_code == 0, (args, result.output)
        assert _snapshot(copy) == before
    finally:
        for p in [copy, *copy.iterdir()]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
