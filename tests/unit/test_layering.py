"""The architecture's rules (docs/architecture.md), checked on the source so that a violation
fails a test: pure decisions, layers, and one owner per table."""

import ast
import re
import subprocess
import sys
import types
from pathlib import Path

from tests.architecture import OWNERS, RANK, SQL_ALLOWED_IN_ENTRY_POINTS, owns

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


# --- layers and table owners (DESIGN invariant 11) ------------------------------------------


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def warmup_imports(path: Path) -> list[tuple[int, str]]:
    """Every ``warmup.*`` module a file imports, function-local imports included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "warmup":
                found += [(node.lineno, f"warmup.{alias.name}") for alias in node.names]
            elif node.module.startswith("warmup."):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("warmup.")]
    return found


def package_of(module: str) -> str:
    return module.split(".")[1]


def layering_violations(paths: list[Path]) -> list[str]:
    problems = []
    for path in paths:
        mine = package_of(module_name(path))
        for line, target in warmup_imports(path):
            theirs = package_of(target)
            if theirs != mine and RANK[theirs] >= RANK[mine]:
                problems.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target}")
    return problems


def warmup_sources() -> list[Path]:
    """Every module of a package under warmup/ (the empty top-level __init__ aside)."""
    return sorted(p for p in (ROOT / "warmup").rglob("*.py") if p != ROOT / "warmup/__init__.py")


def test_every_warmup_package_has_a_layer() -> None:
    packages = {package_of(module_name(p)) for p in warmup_sources()}
    assert packages <= set(RANK), packages - set(RANK)


def test_no_module_imports_a_higher_layer_or_a_peer() -> None:
    assert layering_violations(warmup_sources()) == []


def test_the_layering_check_catches_an_import_up_the_layers(tmp_path: Path) -> None:
    bad = ROOT / "warmup" / "store" / "_probe_violation.py"
    bad.write_text("from warmup.campaigns.store import CampaignStore\n", encoding="utf-8")
    try:
        assert layering_violations([bad]) == [
            "warmup/store/_probe_violation.py:1: store imports warmup.campaigns.store"
        ]
    finally:
        bad.unlink()


def test_store_imports_no_feature() -> None:
    # The error types are the one thing below the store it may use (a schema too old to run).
    for path in (ROOT / "warmup" / "store").rglob("*.py"):
        for line, target in warmup_imports(path):
            assert package_of(target) in {"store", "errors"}, f"{path}:{line} imports {target}"


def _model_tables() -> dict[str, str]:
    from warmup.store import models

    return {
        name: cls.__tablename__
        for name, cls in vars(models).items()
        if isinstance(cls, type) and issubclass(cls, models.Base) and cls is not models.Base
    }


WRITE_SQL = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)


def table_writes(path: Path, tables: dict[str, str]) -> list[tuple[int, str]]:
    """Statically, the tables a file writes: insert/update/delete of a model, a model object
    built (it is inserted when its session commits), or SQL text that writes."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                known = set(tables.values())
                found += [(node.lineno, t) for t in WRITE_SQL.findall(node.value) if t in known]
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in {"insert", "update", "delete"} and node.args:
            target = node.args[0]
            model = target.id if isinstance(target, ast.Name) else None
            if model in tables:
                found.append((node.lineno, tables[model]))
        elif name in tables:
            found.append((node.lineno, tables[name]))
    return found


def ownership_violations(paths: list[Path]) -> list[str]:
    tables = _model_tables()
    problems = []
    for path in paths:
        module = module_name(path)
        if module.startswith("warmup.store."):
            continue  # the models and migrations define the tables
        for line, table in table_writes(path, tables):
            if not owns(module, table):
                problems.append(f"{path.relative_to(ROOT)}:{line}: writes {table}")
    return problems


def test_every_table_has_an_owner() -> None:
    assert set(_model_tables().values()) == set(OWNERS)


def test_each_table_is_written_only_by_its_owner() -> None:
    assert ownership_violations(warmup_sources()) == []


def test_the_ownership_check_catches_a_write_outside_the_owner() -> None:
    bad = ROOT / "warmup" / "api" / "_probe_violation.py"
    bad.write_text(
        "from sqlalchemy import update\nfrom warmup.store.models import LedgerRow\n"
        "STATEMENT = update(LedgerRow)\nRAW = 'UPDATE suppressions SET reason = 1'\n",
        encoding="utf-8",
    )
    try:
        assert ownership_violations([bad]) == [
            "warmup/api/_probe_violation.py:3: writes send_ledger",
            "warmup/api/_probe_violation.py:4: writes suppressions",
        ]
    finally:
        bad.unlink()


def test_routes_and_commands_hold_no_sql() -> None:
    for package in ("api", "commands"):
        for path in (ROOT / "warmup" / package).rglob("*.py"):
            if module_name(path) in SQL_ALLOWED_IN_ENTRY_POINTS:
                continue
            for name in imported_modules(path):
                if name == "sqlalchemy.exc":
                    continue  # turning a database error into an answer is not SQL
                assert name.split(".")[0] != "sqlalchemy", (
                    f"{path.relative_to(ROOT)} imports {name}: call the table's owner instead"
                )


def test_the_runtime_guard_sees_a_write_made_outside_the_owner(tmp_path: Path) -> None:
    from tests import write_guard
    from warmup.store.database import Database

    write_guard.install()
    database = Database.connect(f"sqlite:///{tmp_path / 'guard.db'}")

    def write(db: Database) -> None:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE suppressions SET note = 'x'")

    # The same function as if it were a module of the api package, which owns no such table.
    probe = types.FunctionType(write.__code__, {"__name__": "warmup.api._probe"})
    probe(database)
    caught = [v for v in write_guard.violations if "warmup.api._probe" in v]
    write_guard.violations.clear()
    assert caught == [
        "warmup.api._probe wrote suppressions without its owner warmup.suppression.store"
    ]
