"""DESIGN.md's layering rules, checked on the source so that a violation fails a test."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
PURE_PACKAGES = ("plans", "control")
IMPURE_MODULES = {"redis", "celery", "sqlalchemy", "time", "aiohttp", "random"}
CLOCK_CALLS = {"now", "utcnow", "today"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_warmup_never_imports_celery_or_workers() -> None:
    for path in (ROOT / "warmup").rglob("*.py"):
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top not in {"celery", "workers"}, f"{path} imports {name}"


def test_importing_every_warmup_module_loads_no_celery() -> None:
    code = (
        "import importlib, pkgutil, sys, warmup\n"
        "for m in pkgutil.walk_packages(warmup.__path__, 'warmup.'):\n"
        "    if m.name != 'warmup.__main__':\n"
        "        importlib.import_module(m.name)\n"
        "print('celery' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def pure_sources() -> list[Path]:
    return [p for package in PURE_PACKAGES for p in (ROOT / "warmup" / package).rglob("*.py")]


def test_plans_and_control_import_no_io_and_no_clock() -> None:
    for path in pure_sources():
        for name in imported_modules(path):
            assert name.split(".")[0] not in IMPURE_MODULES, (
                f"{path} imports {name}: decisions take time and counts as arguments"
            )


def test_plans_and_control_never_read_the_clock() -> None:
    for path in pure_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in CLOCK_CALLS, f"{path}:{node.lineno} reads the clock"
