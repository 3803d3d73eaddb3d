"""The architecture's rules (docs/architecture.md), checked on the source so that a violation
fails a test: pure decisions, layers, and one owner per table."""

import ast
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tests.architecture import OWNERS, RANK, READERS, SQL_ALLOWED_IN_ENTRY_POINTS, may_read, owns

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


WRITES = {"insert", "update", "delete"}


def _table_names(tree: ast.AST, tables: dict[str, str]) -> dict[str, set[str]]:
    """Names in a file that stand for tables: its models; every name assigned from a model's
    ``__table__`` (``table = Recipient.__table__``, ``cast(Table, M.__table__)``); and every
    parameter annotated with models (``table: type[DeliveryEvent] | type[EngagementEvent]``)."""
    names = {model: {table} for model, table in tables.items()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                for part in ast.walk(node.value):
                    if (table := _model_table(part, tables)) is not None:
                        names[target.id] = {table}
        elif isinstance(node, ast.arg) and node.annotation is not None:
            annotated = {
                tables[part.id]
                for part in ast.walk(node.annotation)
                if isinstance(part, ast.Name) and part.id in tables
            }
            if annotated:
                names[node.arg] = annotated
    return names


def _model_table(node: ast.AST, tables: dict[str, str]) -> str | None:
    """The table of ``Model.__table__``."""
    if (
        isinstance(node, ast.Attribute)
        and node.attr == "__table__"
        and isinstance(node.value, ast.Name)
    ):
        return tables.get(node.value.id)
    return None


def _tables_of(node: ast.AST, names: dict[str, set[str]]) -> set[str]:
    """The tables an expression names: a model, ``Model.__table__``, or an alias of one."""
    if isinstance(node, ast.Name):
        return names.get(node.id, set())
    if (
        isinstance(node, ast.Attribute)
        and node.attr == "__table__"
        and isinstance(node.value, ast.Name)
    ):
        return names.get(node.value.id, set())
    return set()


def table_writes(path: Path, tables: dict[str, str]) -> list[tuple[int, str]]:
    """Statically, the tables a file writes: insert/update/delete of a model or its table
    (``insert(M)``, ``update(M.__table__)``, ``M.__table__.update()``, a dialect's
    ``dialect_insert(conn)(M)``), a model object built (it is inserted when its session
    commits), or SQL text that writes."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _table_names(tree, tables)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                known = set(tables.values())
                found += [(node.lineno, t) for t in WRITE_SQL.findall(node.value) if t in known]
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        written: set[str] = set()
        if isinstance(func, ast.Call):  # dialect_insert(connection)(Model)
            if node.args and _called(func) == "dialect_insert":
                written = _tables_of(node.args[0], names)
        elif name in WRITES and node.args:  # insert(Model), update(Model.__table__)
            written = _tables_of(node.args[0], names)
        elif name in WRITES and isinstance(func, ast.Attribute):  # Model.__table__.update()
            written = _tables_of(func.value, names)
        elif name in tables:  # a model object built
            written = {tables[name]}
        found += [(node.lineno, table) for table in sorted(written)]
    return found


def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


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
        "from sqlalchemy import update\nfrom warmup.store.models import LedgerRow, Campaign\n"
        "from warmup.store.database import dialect_insert\n"
        "STATEMENT = update(LedgerRow)\nRAW = 'UPDATE suppressions SET reason = 1'\n"
        "UPSERT = dialect_insert(None)(Campaign)\n"
        "TABLE = Campaign.__table__\n"
        "BY_TABLE = update(LedgerRow.__table__)\n"
        "FROM_TABLE = TABLE.delete()\n",
        encoding="utf-8",
    )
    try:
        assert ownership_violations([bad]) == [
            "warmup/api/_probe_violation.py:4: writes send_ledger",
            "warmup/api/_probe_violation.py:5: writes suppressions",
            "warmup/api/_probe_violation.py:6: writes campaigns",
            "warmup/api/_probe_violation.py:8: writes send_ledger",
            "warmup/api/_probe_violation.py:9: writes campaigns",
        ]
    finally:
        bad.unlink()


def model_reads(paths: list[Path]) -> list[str]:
    """Modules that import a table's model (``warmup.store.models``) and may not read it:
    outside the owner's package and not a named read model (``READERS``)."""
    tables = _model_tables()
    problems = []
    for path in paths:
        module = module_name(path)
        if module.startswith("warmup.store."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "warmup.store.models":
                for alias in node.names:
                    table = tables.get(alias.name)
                    if table is not None and not may_read(module, table):
                        problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: reads {table}")
            elif (
                isinstance(node, ast.ImportFrom)
                and node.module == "warmup.store"
                and any(alias.name == "models" for alias in node.names)
            ) or (
                isinstance(node, ast.Import)
                and any(alias.name == "warmup.store.models" for alias in node.names)
            ):
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports all models")
    return problems


def test_only_owners_and_named_read_models_read_a_table() -> None:
    assert model_reads(warmup_sources()) == []


def test_every_named_reader_exists_and_still_reads_the_table() -> None:
    # A read model that stopped reading a table leaves the list: it only shrinks.
    tables = _model_tables()
    reads: dict[str, set[str]] = {}
    for path in warmup_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "warmup.store.models":
                for alias in node.names:
                    if alias.name in tables:
                        reads.setdefault(tables[alias.name], set()).add(module_name(path))
    stale = {
        t: sorted(m - reads.get(t, set())) for t, m in READERS.items() if m - reads.get(t, set())
    }
    assert stale == {}


def test_the_read_check_catches_a_model_read_outside_its_owner() -> None:
    bad = ROOT / "warmup" / "pipeline" / "_probe_violation.py"
    bad.write_text(
        "from warmup.store.models import Campaign, LedgerRow, DispatchFence\n"
        "from warmup.store import models\n"
        "import warmup.store.models\n",
        encoding="utf-8",
    )
    try:
        assert model_reads([bad]) == [
            "warmup/pipeline/_probe_violation.py:1: reads campaigns",
            "warmup/pipeline/_probe_violation.py:1: reads send_ledger",
            "warmup/pipeline/_probe_violation.py:1: reads dispatch_fences",
            "warmup/pipeline/_probe_violation.py:2: imports all models",
            "warmup/pipeline/_probe_violation.py:3: imports all models",
        ]
    finally:
        bad.unlink()


WIRING = ROOT / "warmup" / "wiring.py"


def root_built() -> set[str]:
    """The classes the composition root builds: whatever warmup/wiring.py calls by name (bar the
    errors it raises and the settings' defaults)."""
    tree = ast.parse(WIRING.read_text(encoding="utf-8"))
    return {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id[0].isupper()
        and not node.func.id.endswith("Error")
    } - {"Settings"}


def constructions(paths: list[Path], built: set[str]) -> list[str]:
    """Each place outside the root that builds one of ``built`` (``X(...)`` or ``m.X(...)``)."""
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in built:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: builds {name}")
    return found


def test_the_composition_root_builds_the_stores() -> None:
    built = root_built()
    assert {"CampaignStore", "DomainStore", "LedgerStore", "SuppressionStore"} <= built
    others = [path for path in warmup_sources() if path != WIRING]
    assert constructions(others, built) == []


def test_the_construction_check_catches_a_store_built_outside_the_root() -> None:
    bad = ROOT / "warmup" / "api" / "_probe_violation.py"
    bad.write_text(
        "from warmup.campaigns import store\n"
        "from warmup.domains.store import DomainStore\n"
        "def f(db):\n"
        "    return DomainStore(db), store.CampaignStore(db, domains=None)\n",
        encoding="utf-8",
    )
    try:
        assert constructions([bad], root_built()) == [
            "warmup/api/_probe_violation.py:4: builds DomainStore",
            "warmup/api/_probe_violation.py:4: builds CampaignStore",
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
    assert caught == ["warmup.api._probe wrote suppressions, which warmup.suppression.store owns"]


def test_the_runtime_guard_judges_the_innermost_module_not_an_owner_further_out(
    tmp_path: Path,
) -> None:
    from tests import write_guard
    from warmup.store.database import Database

    write_guard.install()
    database = Database.connect(f"sqlite:///{tmp_path / 'guard.db'}")

    def write(db: Database) -> None:
        with db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE campaigns SET status = 'x'")

    def call(db: Database) -> None:
        ledger_probe(db)  # type: ignore[name-defined]  # noqa: F821 (given in its globals)

    # The ledger writing campaigns, called from the campaigns package (which owns them).
    inner = types.FunctionType(write.__code__, {"__name__": "warmup.ledger._probe"})
    outer = types.FunctionType(
        call.__code__, {"__name__": "warmup.campaigns._probe", "ledger_probe": inner}
    )
    outer(database)
    caught = [v for v in write_guard.violations if "_probe" in v]
    write_guard.violations.clear()
    assert caught == ["warmup.ledger._probe wrote campaigns, which warmup.campaigns owns"]


# --- the docs say the same (docs/architecture.md, "One owner per table") --------------------

DOC = ROOT / "docs" / "architecture.md"


def ownership_rows() -> list[str]:
    """The table of owners, writers and named read models, one row a table, from the code:
    the writers are the modules whose source writes the table (``table_writes``)."""
    tables = _model_tables()
    writers: dict[str, set[str]] = {}
    for path in warmup_sources():
        module = module_name(path)
        if module.startswith("warmup.store."):
            continue
        for _, table in table_writes(path, tables):
            writers.setdefault(table, set()).add(module)

    def names(modules: set[str]) -> str:
        return ", ".join(f"`{m}`" for m in sorted(modules)) or "—"

    return [
        f"| `{table}` | `{OWNERS[table]}` | {names(writers.get(table, set()))} | "
        f"{names(READERS.get(table, set()))} |"
        for table in sorted(OWNERS)
    ]


def test_the_architecture_doc_lists_every_table_its_owner_writers_and_readers() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = [line for line in text.splitlines() if re.match(r"\| `[a-z_]+` \| `warmup", line)]
    assert documented == ownership_rows(), (
        "docs/architecture.md's table of owners drifted from tests/architecture.py and the "
        "code; the rows it should have:\n" + "\n".join(ownership_rows())
    )


def test_the_architecture_doc_names_every_layer() -> None:
    text = DOC.read_text(encoding="utf-8")
    layers = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    missing = sorted(p for p in RANK if p not in {"__main__"} and f"`{p}`" not in layers)
    assert missing == []


def test_the_readme_map_names_every_part_of_warmup() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    parts = [
        f"warmup/{p.name}/" if p.is_dir() else f"warmup/{p.name}"
        for p in (ROOT / "warmup").iterdir()
        if (p.is_dir() and not p.name.startswith("__")) or p.suffix == ".py"
    ]
    missing = sorted(p for p in parts if p != "warmup/__init__.py" and f"`{p}`" not in text)
    assert missing == []


@pytest.mark.parametrize("folder", ["benchmarks", "harness"])
def test_benchmarks_and_the_harness_never_import_a_test_module(folder: str) -> None:
    # Shared worlds live in harness/ (tests and benchmarks both use them); a benchmark that
    # imported a test module would run the test suite's conftest and fixtures' assumptions.
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / folder).glob("*.py"))
        for name in imported_modules(path)
        if name == "tests" or name.startswith("tests.")
    ]
    assert found == []
