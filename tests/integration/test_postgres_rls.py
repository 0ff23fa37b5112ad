"""The second wall: PostgreSQL row-level security keeps tenants apart even without the ORM guard.

Every statement here runs on a raw SQLAlchemy Core connection as the unprivileged application role
``hexmill_app`` (the owner of the test database, so FORCE ROW LEVEL SECURITY is what binds it), with
``hexmill.tenant_id`` set by hand; the tenant guard in ``hexmill.core.tenancy`` is not involved.
Tenant tables are found generically (every table with a ``tenant_id`` column), so a new domain's
tables are covered as soon as they exist. Audit entries are append-only on both backends.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from hexmill.core.models import Tenant
from hexmill.core.tenancy import TenantOwned
from hexmill.models_registry import metadata

# Tables with a tenant_id column that are not tenant-owned data, and why.
EXEMPT = {
    # A browser session belongs to its user; tenant_id only records which enterprise the session has
    # chosen, and the row is read to authenticate, before any tenant is known.
    "console_sessions",
}
# Columns the generic row builder must fill although they are nullable (CHECK constraints need one).
REQUIRED_FKS = {"asset_tags": {"equipment_type_id"}, "factory_locations": {"warehouse_id"}}
# Tables whose trigger refuses every UPDATE and DELETE (the audit log, the stock-move ledger).
APPEND_ONLY = {"audit_entries", "factory_stock_moves", "factory_wo_reports"}
# Foreign keys that must point at a row of their own, not the parent shared by the table's other keys.
FRESH_PARENTS = {
    ("factory_uom_conversions", "to_uom_id"),
    ("factory_stock_moves", "to_location_id"),
    ("factory_po_lines", "order_id"),
    ("factory_quotation_lines", "quotation_id"),
    ("factory_so_lines", "order_id"),
    ("factory_wo_components", "work_order_id"),
    ("factory_wo_operations", "work_order_id"),
    ("factory_qc_checks", "plan_id"),
}
# Values the generic ones would break a CHECK constraint with: (table, column) -> value.
CHECKED_VALUES: dict[tuple[str, str], Any] = {
    ("factory_uoms", "category"): "count",
    ("factory_parties", "is_customer"): True,
    ("factory_items", "kind"): "raw",
    ("factory_items", "tracking"): "none",
    ("factory_lots", "kind"): "lot",
    ("factory_locations", "kind"): "internal",
    ("factory_stock_moves", "production_role"): None,
    ("factory_reservations", "status"): "open",
    ("factory_purchase_orders", "status"): "draft",
    ("factory_quotations", "status"): "draft",
    ("factory_sales_orders", "status"): "draft",
    ("factory_deliveries", "status"): "draft",
    ("factory_work_centres", "efficiency_pct"): 100,
    ("factory_work_orders", "status"): "draft",
    ("factory_wo_operations", "status"): "pending",
    ("factory_wo_reports", "kind"): "start",
    ("factory_wo_reports", "source"): "manual",
    ("factory_wo_issues", "kind"): "manual",
    # A required UTC time with no default (the report's own time), as for usage readings.
    ("factory_wo_reports", "at"): dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    ("factory_maintenance_plans", "trigger_type"): "calendar",
    ("factory_maintenance_plans", "interval_days"): 7,
    ("factory_maintenance_orders", "kind"): "preventive",
    # A required UTC time with no default: the generic builder has no value for the type decorator.
    ("factory_usage_readings", "read_at"): dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    ("factory_qc_plans", "stage"): "receipt",
    ("factory_qc_checks", "kind"): "attribute",
    ("factory_qc_checks", "sample_size"): 1,
    ("factory_qc_inspections", "source_type"): "receipt",
    ("factory_qc_inspections", "result"): "pass",
    ("factory_qc_results", "passed"): True,
    ("factory_qc_ncs", "stage"): "receipt",
    ("factory_qc_dispositions", "kind"): "scrap",
}
# The telemetry store creates these itself (parents, per-tenant and per-period partitions).
STORE_TABLE = re.compile(r"^(tlm_|(raw|m1|h1)_[0-9]+_)")
RLS_REFUSED = "42501"  # insufficient_privilege: "new row violates row-level security policy"

Seeded = dict[str, dict[int, list[dict[str, Any]]]]  # table -> tenant id -> rows
# Row-level security exists on PostgreSQL only: those tests run on that backend alone.
postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def pg_engine(backend: str, database_url: str) -> Iterator[Engine]:
    """Return an engine connecting as hexmill_app, without pooling so no setting outlives its test."""
    if backend != "postgresql":
        pytest.skip("row-level security exists on PostgreSQL only")
    eng = create_engine(database_url, poolclass=NullPool)
    with eng.connect() as conn:
        assert conn.scalar(text("SELECT current_user")) == "hexmill_app"
        assert not conn.scalar(text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"))
    yield eng
    eng.dispose()


def set_tenant(conn: Connection, value: int | str | None) -> None:
    """Set (or, with None, reset) hexmill.tenant_id for the connection's session."""
    if value is None:
        conn.execute(text("RESET hexmill.tenant_id"))
    else:
        # SET takes no bind parameters; the value is an int or one of our own literals.
        conn.execute(text(f"SET hexmill.tenant_id = '{value}'"))


def catalog_tenant_tables(conn: Connection) -> set[str]:
    """Return every table of the database with a tenant_id column."""
    rows = conn.execute(
        text(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = 'tenant_id'"
        )
    )
    return {r[0] for r in rows} - {"alembic_version"}


def store_tables(conn: Connection) -> set[str]:
    """Return the telemetry store's own tables (parents and partitions), which no model describes."""
    return {name for name in catalog_tenant_tables(conn) if STORE_TABLE.match(name)}


def tenant_tables(conn: Connection) -> list[Table]:
    """Return the tenant-owned tables, checking the catalog and the models agree on them."""
    in_db = catalog_tenant_tables(conn) - EXEMPT - store_tables(conn)
    in_code = {t.name for t in metadata.sorted_tables if "tenant_id" in t.c} - EXEMPT
    assert in_db == in_code, f"tables with tenant_id differ between database and models: {in_db ^ in_code}"
    return [t for t in metadata.sorted_tables if t.name in in_db]


_PLAIN_VALUES: dict[type, Callable[[], Any]] = {
    bool: lambda: False,
    int: lambda: 1,
    float: lambda: 1.0,
    decimal.Decimal: lambda: decimal.Decimal(1),
    dt.datetime: lambda: dt.datetime.now(dt.UTC),
    dt.date: lambda: dt.datetime.now(dt.UTC).date(),
    dt.time: lambda: dt.time(6, 0),
    dict: dict,
    list: list,
}


def _value(table: Table, column: Any) -> Any:
    kind = column.type.python_type
    if kind is str:
        length = getattr(column.type, "length", None) or 32
        return ("r" + uuid.uuid4().hex)[:length]
    if kind in _PLAIN_VALUES:
        return _PLAIN_VALUES[kind]()
    msg = f"no generic value for {table.name}.{column.name} ({column.type}); extend _PLAIN_VALUES"
    raise AssertionError(msg)


class RowBuilder:
    """Insert a valid row into any table, creating the parent rows its foreign keys need."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.parents: dict[tuple[str, int], int] = {}

    def parent(self, table: Table, tenant_id: int) -> int:
        """Return the id of a row of ``table`` for ``tenant_id``, creating it once."""
        if table.name == "tenants":
            return tenant_id
        key = (table.name, tenant_id)
        if key not in self.parents:
            self.parents[key] = self.row(table, tenant_id)["id"]
        return self.parents[key]

    def row(self, table: Table, tenant_id: int) -> dict[str, Any]:
        """Insert one row of ``table`` owned by ``tenant_id``; return it."""
        values: dict[str, Any] = {}
        forced = REQUIRED_FKS.get(table.name, set())
        for column in table.columns:
            if column.name == "tenant_id":
                values["tenant_id"] = tenant_id
                continue
            if column.primary_key and column.autoincrement in (True, "auto"):
                continue
            needed = not column.nullable and column.default is None and column.server_default is None
            if not (needed or column.name in forced or (table.name, column.name) in CHECKED_VALUES):
                continue
            fks = list(column.foreign_keys)
            if (table.name, column.name) in CHECKED_VALUES:
                values[column.name] = CHECKED_VALUES[(table.name, column.name)]
            elif fks and (table.name, column.name) in FRESH_PARENTS:
                values[column.name] = self.row(fks[0].column.table, tenant_id)["id"]
            elif fks:
                values[column.name] = self.parent(fks[0].column.table, tenant_id)
            else:
                values[column.name] = _value(table, column)
        try:
            with self.conn.begin_nested():
                return dict(self.conn.execute(insert(table).values(values).returning(*table.c)).mappings().one())
        except DBAPIError as exc:
            msg = f"cannot build a row of {table.name}; add the columns it needs to REQUIRED_FKS: {exc}"
            raise AssertionError(msg) from exc


@pytest.fixture
def seeded(pg_engine: Engine, actor_factory: Callable[..., Any]) -> tuple[int, int, Seeded]:
    """Create tenants A and B through the services, then a row of each of them in every tenant table."""
    a = actor_factory().tenant
    b = actor_factory().tenant
    rows: Seeded = {}
    with pg_engine.begin() as conn:
        set_tenant(conn, "*")
        builder = RowBuilder(conn)
        for table in tenant_tables(conn):
            rows[table.name] = {tid: [builder.row(table, tid)] for tid in (a.id, b.id)}
    return a.id, b.id, rows


def no_returning(table: Table) -> Table:
    """Return a copy of ``table`` whose INSERTs carry no RETURNING clause.

    SQLAlchemy fetches new primary keys with RETURNING, and RETURNING makes PostgreSQL apply the
    policy's USING clause to the new row as well; without it only WITH CHECK can refuse the row.
    """
    copy = table.to_metadata(MetaData())
    copy.implicit_returning = False
    return copy


def count(conn: Connection, table: Table, tenant_id: int | None = None) -> int:
    """Count the rows of ``table`` the connection can see (of one tenant, if given)."""
    stmt = select(func.count()).select_from(table)
    if tenant_id is not None:
        stmt = stmt.where(table.c.tenant_id == tenant_id)
    return int(conn.scalar(stmt) or 0)


@postgresql_only
def test_every_tenant_table_has_a_forced_policy(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        tables = [t.name for t in tenant_tables(conn)]
        assert {"roles", "memberships", "api_tokens", "audit_entries"} <= set(tables)
        owned = {c.__table__.name for c in TenantOwned.__subclasses__() if hasattr(c, "__table__")}
        assert owned <= set(tables)
        for name in [*tables, *sorted(store_tables(conn))]:
            enabled, forced = conn.execute(
                text("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                {"t": name},
            ).one()
            policies = conn.scalar(text("SELECT count(*) FROM pg_policies WHERE tablename = :t"), {"t": name})
            assert (enabled, forced, policies) == (True, True, 1), name


@postgresql_only
def test_owning_tenant_and_platform_scope_see_the_rows(pg_engine: Engine, seeded: tuple[int, int, Seeded]) -> None:
    # The control for the tests below: the rows are there, and visible to whom they should be.
    a, _b, rows = seeded
    with pg_engine.begin() as conn:
        tables = tenant_tables(conn)
        for scope in (a, "*"):
            set_tenant(conn, scope)
            for table in tables:
                assert count(conn, table, a) >= len(rows[table.name][a]), (scope, table.name)


@postgresql_only
@pytest.mark.parametrize("setting", ["other", "", "unset", "garbage"])
def test_no_row_of_a_tenant_is_visible_outside_it(
    pg_engine: Engine, seeded: tuple[int, int, Seeded], setting: str
) -> None:
    a, b, _rows = seeded
    value: int | str | None = {"other": b, "": "", "unset": None, "garbage": "1 OR true"}[setting]
    with pg_engine.begin() as conn:
        tables = tenant_tables(conn)
        set_tenant(conn, value)
        for table in tables:
            assert count(conn, table, a) == 0, f"{table.name}: tenant {a} visible with hexmill.tenant_id={value!r}"
            if setting == "other":
                assert count(conn, table, b) >= 1, table.name
                assert count(conn, table) == count(conn, table, b), table.name
            else:
                assert count(conn, table) == 0, table.name
            # No tenant's row comes back by id either: the policy filters before the predicate.
            assert conn.execute(select(table).where(table.c.tenant_id != b)).first() is None, table.name


@postgresql_only
def test_a_row_for_another_tenant_cannot_be_inserted(pg_engine: Engine, seeded: tuple[int, int, Seeded]) -> None:
    a, b, rows = seeded
    with pg_engine.connect() as conn:
        tables = tenant_tables(conn)
        conn.rollback()
        for table in tables:
            # A copy of tenant A's row, inserted while acting for tenant B (or for nobody): WITH CHECK
            # refuses it before any unique or foreign-key constraint is looked at.
            copy = {k: v for k, v in rows[table.name][a][0].items() if not table.c[k].primary_key}
            for scope, row in ((b, copy), ("", {**copy, "tenant_id": b}), (None, copy)):
                trans = conn.begin()
                try:
                    set_tenant(conn, scope)
                    with pytest.raises(DBAPIError) as caught:
                        conn.execute(insert(no_returning(table)).values(row))
                finally:
                    trans.rollback()
                assert getattr(caught.value.orig, "sqlstate", None) == RLS_REFUSED, (table.name, scope, caught.value)


@postgresql_only
def test_another_tenant_cannot_change_or_take_rows(pg_engine: Engine, seeded: tuple[int, int, Seeded]) -> None:
    a, b, rows = seeded
    with pg_engine.connect() as conn:
        tables = tenant_tables(conn)
        conn.rollback()
        for table in tables:
            with conn.begin():
                set_tenant(conn, b)
                updated = conn.execute(table.update().where(table.c.tenant_id == a).values(tenant_id=b))
                deleted = conn.execute(table.delete().where(table.c.tenant_id == a))
                assert (updated.rowcount, deleted.rowcount) == (0, 0), table.name
                if table.name in APPEND_ONLY:
                    continue  # append-only: the trigger refuses the move before the policy is asked
                own_id = rows[table.name][b][0]["id"]
                with pytest.raises(DBAPIError) as caught, conn.begin_nested():
                    conn.execute(table.update().where(table.c.id == own_id).values(tenant_id=a))
                assert getattr(caught.value.orig, "sqlstate", None) == RLS_REFUSED, table.name
        with conn.begin():
            set_tenant(conn, "*")
            for table in tables:
                assert count(conn, table, a) >= 1, f"{table.name}: tenant {a}'s rows were changed from outside"


@pytest.fixture
def audit_row(backend: str, engine: Engine, tenant_factory: Callable[..., Tenant]) -> tuple[Table, int]:
    """Insert one audit entry (on either backend) and return the table and its id."""
    table = metadata.tables["audit_entries"]
    tenant = tenant_factory()
    with engine.begin() as conn:
        if backend == "postgresql":
            set_tenant(conn, "*")
        entry_id = conn.scalar(
            insert(table).values(tenant_id=tenant.id, action="rls.test", detail={}).returning(table.c.id)
        )
    assert entry_id is not None
    return table, entry_id


def _as_platform(backend: str, conn: Connection) -> None:
    if backend == "postgresql":
        set_tenant(conn, "*")


def test_audit_entries_refuse_update(backend: str, engine: Engine, audit_row: tuple[Table, int]) -> None:
    table, entry_id = audit_row
    with engine.connect() as conn:
        with conn.begin():
            _as_platform(backend, conn)
            assert conn.scalar(select(func.count()).select_from(table).where(table.c.id == entry_id)) == 1
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(table.update().where(table.c.id == entry_id).values(action="rls.tampered"))
            conn.rollback()
        with conn.begin():
            _as_platform(backend, conn)
            assert conn.scalar(select(table.c.action).where(table.c.id == entry_id)) == "rls.test"


def test_audit_entries_refuse_delete(backend: str, engine: Engine, audit_row: tuple[Table, int]) -> None:
    table, entry_id = audit_row
    with engine.connect() as conn:
        with conn.begin():
            _as_platform(backend, conn)
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(table.delete().where(table.c.id == entry_id))
            conn.rollback()
        with conn.begin():
            _as_platform(backend, conn)
            assert conn.scalar(select(func.count()).select_from(table).where(table.c.id == entry_id)) == 1


@postgresql_only
def test_the_app_role_owns_the_tables_and_bypasses_nothing(pg_engine: Engine) -> None:
    # The database role the tests use is the one the application uses: no superuser, no BYPASSRLS,
    # and it owns the tables (so only FORCE makes the policies bind it).
    with pg_engine.connect() as conn:
        owner = conn.scalar(text("SELECT tableowner FROM pg_tables WHERE tablename = 'roles'"))
        assert owner == "hexmill_app"
        assert "roles" in inspect(conn).get_table_names()
