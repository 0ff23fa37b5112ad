"""Importing spreadsheets: check a whole file, then create its objects through the owning services, all or nothing.

A file holds one kind (parties, items, BOMs, routings, opening stock, open purchase or sales orders). It is
read (``reading``), checked cell by cell (``columns``), its codes are resolved against the
enterprise's units, items, parties, work centres and locations, and then every row (or group of
rows: one BOM version, one order) is handed to the service that owns the object, each in its own
savepoint inside one savepoint for the file. An error of a service is mapped back to the row and
column it came from and the import goes on to find the rest; at the end, if anything was wrong
(or on a dry run) the file's savepoint is rolled back and nothing stays. The caller's transaction
commits the rest, once.

Each kind needs the edit permission of what it creates: ``factory.edit`` (parties, items, BOMs,
routings), ``inventory.move`` (opening stock), ``purchasing.edit`` (purchase orders),
``sales.edit`` (sales orders); resolving codes needs the matching view permissions.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any, Final, NamedTuple

from sqlalchemy.orm import Session

from hexmill.core.context import Context
from hexmill.core.errors import Conflict, FieldError, InvalidInput, NotFound
from hexmill.core.export import pages
from hexmill.core.i18n import N_
from hexmill.core.pagination import MAX_LIMIT
from hexmill.factory.imports import columns, reading
from hexmill.factory.imports.columns import KINDS, CellError, KindSpec, Parsed, ParsedRow
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.purchasing import service as purchasing
from hexmill.factory.sales import service as sales

Progress = Callable[[int, int], None]
REFERENCE_TYPE: Final = "opening_stock"
_LINE_FIELD = re.compile(r"^lines\.(\d+)\.(.+)$")
# Errors a service raises about its input; anything else (permission, a bug) reaches the caller.
_INPUT_ERRORS: Final = (InvalidInput, Conflict, NotFound)


@dataclass(slots=True)
class ImportResult:
    """What an import created (or, on a dry run, would create), by kind of object."""

    kind: str
    rows: int
    dry_run: bool
    created: dict[str, int] = field(default_factory=dict)


class _ItemRef(NamedTuple):
    id: int
    uom_id: int
    tracking: str


class _LocationRef(NamedTuple):
    id: int
    warehouse_id: int | None


def kind_spec(kind: str) -> KindSpec:
    """Return the columns and rules of an import kind, or raise InvalidInput on ``kind``."""
    spec = KINDS.get(kind)
    if spec is None:
        message = N_("Unknown import kind %(kind)s.")
        raise InvalidInput(
            message, field="kind", errors=[FieldError(message, field="kind", params={"kind": kind})], kind=kind
        )
    return spec


class _Refs:
    """The enterprise's codes a file may name, each map read once (page by page) through its service."""

    def __init__(self, session: Session, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx

    @cached_property
    def uoms(self) -> dict[str, int]:
        s, c = self.session, self.ctx
        return {u.code: u.id for u in pages(lambda o: masterdata.list_uoms(s, c, offset=o, limit=MAX_LIMIT))}

    @cached_property
    def items(self) -> dict[str, _ItemRef]:
        s, c = self.session, self.ctx
        return {
            i.code: _ItemRef(i.id, i.uom_id, i.tracking)
            for i in pages(lambda o: masterdata.list_items(s, c, offset=o, limit=MAX_LIMIT))
        }

    @cached_property
    def parties(self) -> dict[str, int]:
        s, c = self.session, self.ctx
        return {p.code: p.id for p in pages(lambda o: masterdata.list_parties(s, c, offset=o, limit=MAX_LIMIT))}

    @cached_property
    def work_centres(self) -> dict[str, tuple[int, str]]:
        s, c = self.session, self.ctx
        return {
            w.code: (w.id, w.name)
            for w in pages(lambda o: masterdata.list_work_centres(s, c, offset=o, limit=MAX_LIMIT))
        }

    @cached_property
    def locations(self) -> dict[str, _LocationRef]:
        s, c = self.session, self.ctx
        internal = {"kind": "internal"}
        return {
            loc.code: _LocationRef(loc.id, loc.warehouse_id)
            for loc in pages(lambda o: inventory.list_locations(s, c, filters=internal, offset=o, limit=MAX_LIMIT))
        }

    @cached_property
    def warehouses(self) -> dict[str, int]:
        s, c = self.session, self.ctx
        return {w.code: w.id for w in pages(lambda o: inventory.list_warehouses(s, c, offset=o, limit=MAX_LIMIT))}

    @cached_property
    def lots(self) -> dict[tuple[int, str], int]:
        s, c = self.session, self.ctx
        return {
            (lot.item_id, lot.number): lot.id
            for lot in pages(lambda o: inventory.list_lots(s, c, offset=o, limit=MAX_LIMIT))
        }

    @cached_property
    def adjustment(self) -> int:
        return inventory.virtual_locations(self.session, self.ctx)["adjustment"].id


class _Retry(Exception):
    """A service refused a row of a run without savepoints: roll the file back and run it again, carefully."""


@dataclass(slots=True)
class _Run:
    """One import under way: the checked file, the codes, the errors so far and the counts."""

    session: Session
    ctx: Context
    spec: KindSpec
    parsed: Parsed
    refs: _Refs
    filename: str
    careful: bool = True
    errors: list[CellError] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        """Add ``n`` to the count of ``what`` created."""
        self.created[what] = self.created.get(what, 0) + n

    def error(self, row: ParsedRow, key: str | None, message: str, **params: Any) -> None:
        """Record an error of a row's cell (the column named as the file names it)."""
        self.errors.append(CellError(message, row=row.number, column=self.parsed.header(key), params=params))

    def resolve(self, row: ParsedRow, key: str, table: Mapping[str, Any], message: str) -> Any:
        """Return what the code in a row's cell names, or record ``message`` (with %(code)s) and return None."""
        code = row.values.get(key)
        if code is None:
            return None
        found = table.get(code)
        if found is None:
            self.error(row, key, message, code=code)
        return found

    def attempt(
        self,
        rows: Sequence[ParsedRow],
        fields: Mapping[str, str],
        action: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Run ``action(*args, **kwargs)`` in a savepoint; return its result, or None after an input error.

        An input error is recorded on its row and column: a field "lines.N.x" is about the N-th of
        ``rows``, any other field about the first row; ``fields`` maps the service's field names to
        the kind's column keys. A run that is not ``careful`` takes no savepoint (one SAVEPOINT and
        RELEASE less per row) and answers an input error with ``_Retry``.
        """
        if not self.careful:
            try:
                return action(*args, **kwargs)
            except _INPUT_ERRORS as exc:
                raise _Retry from exc
        try:
            with self.session.begin_nested():
                return action(*args, **kwargs)
        except _INPUT_ERRORS as exc:
            found = exc.errors or [FieldError(exc.detail, field=exc.field, params=exc.params)]
            for err in found:
                row, name = rows[0], err.field or ""
                match = _LINE_FIELD.match(name)
                if match and int(match[1]) < len(rows):
                    row, name = rows[int(match[1])], match[2]
                params = err.params or (exc.params if err.detail == exc.detail else {})
                self.errors.append(
                    CellError(err.detail, row=row.number, column=self.parsed.header(fields.get(name)), params=params)
                )
            return None


# -- the kinds ----------------------------------------------------------------------------------


def _parties(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    fields = {k: k for k in ("code", "name", "is_customer", "is_supplier", "contact_name", "email", "phone", "address")}
    for n, row in enumerate(rows, start=1):
        if run.attempt([row], fields, masterdata.create_party, run.session, run.ctx, **row.values):
            run.count("parties")
        progress(n, len(rows))


def _items(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    fields = {"code": "code", "name": "name", "kind": "kind", "uom_id": "uom", "tracking": "tracking"}
    for n, row in enumerate(rows, start=1):
        uom_id = run.resolve(row, "uom", run.refs.uoms, N_("Unknown unit %(code)s."))
        if uom_id is not None:
            v = {k: value for k, value in row.values.items() if k != "uom"}
            if run.attempt([row], fields, masterdata.create_item, run.session, run.ctx, uom_id=uom_id, **v):
                run.count("items")
        progress(n, len(rows))


_BOM_FIELDS: Final = {
    "item_id": "parent",
    "version": "version",
    "effective_from": "effective_from",
    "effective_to": "effective_to",
    "component_id": "component",
    "quantity": "quantity",
    "uom_id": "uom",
    "scrap_factor": "scrap_factor",
}


def _bom_lines(run: _Run, group: Sequence[ParsedRow]) -> list[tuple[ParsedRow, dict[str, Any]]]:
    """Resolve the codes of a BOM version's rows; return the rows whose codes all exist, with their line fields."""
    lines = []
    for row in group:
        parent = run.resolve(row, "parent", run.refs.items, N_("Unknown item %(code)s."))
        component = run.resolve(row, "component", run.refs.items, N_("Unknown item %(code)s."))
        uom = run.resolve(row, "uom", run.refs.uoms, N_("Unknown unit %(code)s."))
        if parent is None or component is None or (uom is None and "uom" in row.values):
            continue
        line = {"component_id": component.id, "quantity": row.values["quantity"], "uom_id": uom}
        if "scrap_factor" in row.values:
            line["scrap_factor"] = row.values["scrap_factor"]
        lines.append((row, line))
    return lines


def _boms(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    done = 0
    for group in columns.group_rows(run.spec, rows):
        lines = _bom_lines(run, group)
        done += len(group)
        if not lines:
            progress(done, len(rows))
            continue
        head = lines[0][0].values
        bom = run.attempt(
            [lines[0][0]],
            _BOM_FIELDS,
            masterdata.create_bom,
            run.session,
            run.ctx,
            item_id=run.refs.items[head["parent"]].id,
            version=head["version"],
            effective_from=head.get("effective_from"),
            effective_to=head.get("effective_to"),
            is_default=head.get("is_default", False),
            description=head.get("description", ""),
        )
        if bom is not None:
            run.count("boms")
            for position, (row, line) in enumerate(lines, start=1):
                add = masterdata.add_bom_line
                if run.attempt([row], _BOM_FIELDS, add, run.session, run.ctx, bom.id, position=position * 10, **line):
                    run.count("bom_lines")
        progress(done, len(rows))


def _routings(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    fields = {
        "item_id": "item",
        "sequence": "sequence",
        "name": "name",
        "work_centre_id": "work_centre",
        "setup_minutes": "setup_minutes",
        "run_minutes": "run_minutes",
        "transfer_batch": "transfer_batch",
    }
    for n, row in enumerate(rows, start=1):
        item = run.resolve(row, "item", run.refs.items, N_("Unknown item %(code)s."))
        centre = run.resolve(row, "work_centre", run.refs.work_centres, N_("Unknown work centre %(code)s."))
        if item is not None and centre is not None:
            v: dict[str, Any] = {
                k: row.values[k] for k in ("setup_minutes", "run_minutes", "transfer_batch") if k in row.values
            }
            v.update(item_id=item.id, sequence=row.values["sequence"], work_centre_id=centre[0])
            v["name"] = row.values.get("name") or centre[1]
            if run.attempt([row], fields, masterdata.create_operation, run.session, run.ctx, **v):
                run.count("operations")
        progress(n, len(rows))


def _stock_row(run: _Run, row: ParsedRow) -> tuple[_ItemRef, _LocationRef] | None:
    """Resolve an opening-stock row's item, location and warehouse; record what does not fit."""
    item = run.resolve(row, "item", run.refs.items, N_("Unknown item %(code)s."))
    location = run.resolve(row, "location", run.refs.locations, N_("Unknown location %(code)s."))
    warehouse = run.resolve(row, "warehouse", run.refs.warehouses, N_("Unknown warehouse %(code)s."))
    if location is not None and warehouse is not None and location.warehouse_id != warehouse:
        run.error(
            row,
            "location",
            N_("Location %(location)s is not in warehouse %(warehouse)s."),
            location=row.values["location"],
            warehouse=row.values["warehouse"],
        )
        return None
    if item is not None and item.tracking == "none" and "lot" in row.values:
        run.error(row, "lot", N_("Item %(code)s is not tracked: leave the lot empty."), code=row.values["item"])
        return None
    if item is None or location is None or ("warehouse" in row.values and warehouse is None):
        return None
    return item, location


def _post_opening(run: _Run, item: _ItemRef, location: _LocationRef, number: str | None, quantity: Decimal) -> Any:
    """Post one opening balance from the adjustment location, creating its lot if new."""
    # A lot is created for its first move; if the move fails, the lot goes with the move's savepoint.
    lot_id = None if number is None else run.refs.lots.get((item.id, number))
    new_lot = None
    if number is not None and lot_id is None:
        new_lot = inventory.create_lot(run.session, run.ctx, item_id=item.id, number=number)
        lot_id = new_lot.id
    move = inventory.post_move(
        run.session,
        run.ctx,
        item_id=item.id,
        quantity=quantity,
        from_location_id=run.refs.adjustment,
        to_location_id=location.id,
        lot_id=lot_id,
        reference_type=REFERENCE_TYPE,
        reference_id=run.filename[-64:] or "import",
    )
    if number is not None and new_lot is not None:
        run.refs.lots[(item.id, number)] = new_lot.id
        run.count("lots")
    return move


def _opening_stock(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    fields = {"item_id": "item", "to_location_id": "location", "lot_id": "lot", "number": "lot", "quantity": "quantity"}
    for n, row in enumerate(rows, start=1):
        found = _stock_row(run, row)
        if found is not None:
            item, location = found
            move = run.attempt(
                [row], fields, _post_opening, run, item, location, row.values.get("lot"), row.values["quantity"]
            )
            if move is not None:
                run.count("stock_moves")
        progress(n, len(rows))


_ORDER_FIELDS: Final = {
    "number": "number",
    "supplier_id": "supplier",
    "expected_date": "expected_date",
    "order_date": "order_date",
    "note": "note",
    "item_id": "item",
    "quantity": "quantity",
    "uom_id": "uom",
    "unit_price": "unit_price",
}


def _order_lines(run: _Run, group: Sequence[ParsedRow], *extra: str) -> list[tuple[ParsedRow, dict[str, Any]]]:
    """Resolve the item and unit codes of an order's rows; return the rows that resolve, with their line fields."""
    lines = []
    for row in group:
        item = run.resolve(row, "item", run.refs.items, N_("Unknown item %(code)s."))
        uom = run.resolve(row, "uom", run.refs.uoms, N_("Unknown unit %(code)s."))
        if item is not None and (uom is not None or "uom" not in row.values):
            line = {"item_id": item.id, "quantity": row.values["quantity"], "uom_id": uom}
            line["unit_price"] = row.values.get("unit_price", Decimal(0))
            line.update({k: row.values[k] for k in extra if k in row.values})
            lines.append((row, line))
    return lines


def _create_order(run: _Run, head: Mapping[str, Any], supplier: int, lines: Sequence[Mapping[str, Any]]) -> Any:
    """Create a purchase order with its lines and confirm it (an open order)."""
    order = purchasing.create_purchase_order(
        run.session,
        run.ctx,
        number=head["number"],
        supplier_id=supplier,
        order_date=head.get("order_date"),
        expected_date=head.get("expected_date"),
        note=head.get("note", ""),
        lines=lines,
    )
    return purchasing.confirm_purchase_order(run.session, run.ctx, order.id)


def _purchase_orders(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    done = 0
    for group in columns.group_rows(run.spec, rows):
        done += len(group)
        supplier = run.resolve(group[0], "supplier", run.refs.parties, N_("Unknown party %(code)s."))
        lines = _order_lines(run, group)
        if supplier is None or len(lines) != len(group):
            progress(done, len(rows))
            continue
        head = group[0].values
        order = run.attempt(
            [row for row, _line in lines],
            _ORDER_FIELDS,
            _create_order,
            run,
            head,
            supplier,
            [line for _row, line in lines],
        )
        if order is not None:
            run.count("purchase_orders")
            run.count("purchase_order_lines", len(lines))
        progress(done, len(rows))


_SALES_FIELDS: Final = {
    "number": "number",
    "customer_id": "customer",
    "order_date": "order_date",
    "customer_reference": "customer_reference",
    "note": "note",
    "item_id": "item",
    "quantity": "quantity",
    "uom_id": "uom",
    "unit_price": "unit_price",
    "due_date": "due_date",
}


def _create_sales_order(run: _Run, head: Mapping[str, Any], customer: int, lines: Sequence[Mapping[str, Any]]) -> Any:
    """Create a sales order with its lines and confirm it (an open order)."""
    order = sales.create_sales_order(
        run.session,
        run.ctx,
        number=head["number"],
        customer_id=customer,
        order_date=head.get("order_date"),
        customer_reference=head.get("customer_reference", ""),
        note=head.get("note", ""),
        lines=lines,
    )
    return sales.confirm_sales_order(run.session, run.ctx, order.id)


def _sales_orders(run: _Run, rows: Sequence[ParsedRow], progress: Progress) -> None:
    done = 0
    for group in columns.group_rows(run.spec, rows):
        done += len(group)
        customer = run.resolve(group[0], "customer", run.refs.parties, N_("Unknown party %(code)s."))
        lines = _order_lines(run, group, "due_date")
        if customer is not None and len(lines) == len(group):
            order = run.attempt(
                [row for row, _line in lines],
                _SALES_FIELDS,
                _create_sales_order,
                run,
                group[0].values,
                customer,
                [line for _row, line in lines],
            )
            if order is not None:
                run.count("sales_orders")
                run.count("sales_order_lines", len(lines))
        progress(done, len(rows))


_APPLY: Final[dict[str, Callable[[_Run, Sequence[ParsedRow], Progress], None]]] = {
    "parties": _parties,
    "items": _items,
    "boms": _boms,
    "routings": _routings,
    "opening_stock": _opening_stock,
    "purchase_orders": _purchase_orders,
    "sales_orders": _sales_orders,
}


def _no_progress(done: int, total: int) -> None:
    """Ignore progress (the API and console answer once, at the end)."""


def _refused(errors: list[CellError]) -> InvalidInput:
    message = N_("Nothing was imported; errors found: %(count)s.")
    return InvalidInput(message, errors=list(errors), count=len(errors))


def import_file(
    session: Session,
    ctx: Context,
    *,
    kind: str,
    data: bytes,
    filename: str = "",
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Check a spreadsheet of one kind and create its objects, all or nothing.

    Args:
        session: The tenant-scoped session; the caller commits.
        ctx: The acting context (needs the edit permission of the kind, and the view permissions of
            what its codes name).
        kind: ``parties``, ``items``, ``boms``, ``routings``, ``opening_stock``, ``purchase_orders`` or
            ``sales_orders``.
        data: The file's bytes: CSV (UTF-8 or GB18030, comma, semicolon or tab) or .xlsx.
        filename: The file's name (kept as the reference of opening-stock moves).
        dry_run: Check everything, the services' own rules included, and keep nothing.
        progress: Called with (rows done, rows in all) while the rows are applied.

    Returns:
        The counts of what was (or on a dry run would be) created, by kind of object.

    Raises:
        InvalidInput: The file has errors; ``errors`` lists every one with its row and column
            (``CellError``) and nothing was kept.
        PermissionDenied: The caller may not create objects of this kind.
    """
    spec = kind_spec(kind)
    ctx.require(spec.permission)
    ctx.require_tenant()
    try:
        sheet = reading.read(data, filename, (spec.name, spec.zh))
    except reading.UnreadableFile as exc:
        raise _refused([CellError(exc.message, params=exc.params)]) from None
    parsed = columns.parse(spec, sheet)
    if parsed.errors and not parsed.rows:
        raise _refused(parsed.errors)
    # Most files pass: run them without a savepoint per row. Once a service refuses a row (or when
    # rows were already refused), every row runs in its own savepoint so that every error is found.
    careful = bool(parsed.errors)
    while True:
        run = _Run(session, ctx, spec, parsed, _Refs(session, ctx), filename, careful=careful)
        outer = session.begin_nested()
        try:
            _APPLY[kind](run, parsed.rows, progress or _no_progress)
        except _Retry:
            outer.rollback()
            careful = True
            continue
        except BaseException:
            outer.rollback()
            raise
        break
    errors = sorted([*parsed.errors, *run.errors], key=lambda e: (e.row or 0, _column_order(spec, parsed, e.column)))
    if errors or dry_run:
        outer.rollback()
    else:
        outer.commit()
    if errors:
        raise _refused(errors)
    return ImportResult(kind=kind, rows=len(sheet.rows), dry_run=dry_run, created=run.created)


def _column_order(spec: KindSpec, parsed: Parsed, column: str | None) -> int:
    for n, col in enumerate(spec.columns):
        if parsed.header(col.key) == column:
            return n
    return len(spec.columns)
