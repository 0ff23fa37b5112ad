"""Service tests of production: release snapshots, the operation state machine, good against the previous
operation, material issues, backflush quantities and FIFO lots, serial receipts, genealogy, the machine hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from hexmill.core.errors import Conflict, InvalidInput, PermissionDenied
from hexmill.factory.inventory import service as inventory
from hexmill.factory.masterdata import service as masterdata
from hexmill.factory.production import service
from tests.factory.inventory.conftest import Plant
from tests.factory.production.conftest import component_ids, make_order, operation_ids

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _report(works: Plant, op_id: int, kind: str, minutes: int = 0, **kwargs: object) -> None:
    with works.session() as (s, ctx):
        service.report_operation(s, ctx, op_id, kind=kind, at=T0 + timedelta(minutes=minutes), **kwargs)  # type: ignore[arg-type]


def _lots_traced(works: Plant, lot_id: int) -> set[int]:
    with works.session() as (s, ctx):
        return set(inventory.trace_down(s, ctx, lot_id).lots) - {lot_id}


def test_release_snapshots_bom_one_level_and_routing(works: Plant) -> None:
    ids = works.ids
    wo_id = make_order(works, quantity="10")
    with works.session() as (s, ctx):
        wo = service.get_work_order(s, ctx, wo_id)
        assert wo.status == "released" and wo.released_at is not None
        assert [(c.item_id, c.quantity_per_unit, c.required_quantity) for c in wo.components] == [
            (ids["bolt"], Decimal(2), Decimal(20)),
            (ids["steel"], Decimal("0.625"), Decimal("6.25")),
        ]
        assert [
            (o.sequence, o.name, o.work_centre_id, o.setup_minutes, o.run_minutes, o.transfer_batch, o.status)
            for o in wo.operations
        ] == [
            (10, "Cut", ids["cut_wc"], Decimal(15), Decimal("1.5"), None, "pending"),
            (20, "Weld", ids["weld_wc"], Decimal(0), Decimal(3), Decimal(5), "pending"),
        ]


def test_master_data_edits_after_release_do_not_change_the_order(works: Plant) -> None:
    ids = works.ids
    wo_id = make_order(works, quantity="4")
    with works.session() as (s, ctx):
        bom = masterdata.get_bom(s, ctx, ids["widget_bom"])
        for line in list(bom.lines):
            masterdata.update_bom_line(s, ctx, bom.id, line.id, quantity=Decimal(7))
        masterdata.add_bom_line(s, ctx, bom.id, component_id=ids["frame"], quantity=Decimal(1))
        masterdata.update_operation(s, ctx, ids["cut"], run_minutes=Decimal(99), name="Laser")
        masterdata.delete_operation(s, ctx, ids["weld"])
    with works.session() as (s, ctx):
        wo = service.get_work_order(s, ctx, wo_id)
        assert [(c.item_id, c.quantity_per_unit) for c in wo.components] == [
            (ids["bolt"], Decimal(2)),
            (ids["steel"], Decimal("0.625")),
        ]
        assert [(o.sequence, o.name, o.run_minutes) for o in wo.operations] == [
            (10, "Cut", Decimal("1.5")),
            (20, "Weld", Decimal(3)),
        ]
    # A new release takes the changed master data.
    later = make_order(works, quantity="1")
    with works.session() as (s, ctx):
        wo = service.get_work_order(s, ctx, later)
        assert [c.item_id for c in wo.components] == [ids["bolt"], ids["steel"], ids["frame"]]
        assert [(o.name, o.run_minutes) for o in wo.operations] == [("Laser", Decimal(99))]


def test_release_refuses_an_item_without_routing_naming_it(works: Plant) -> None:
    wo_id = make_order(works, item="bare", release=False)
    with works.session() as (s, ctx), pytest.raises(Conflict) as caught:
        service.release_work_order(s, ctx, wo_id)
    with works.session() as (s, ctx):
        code = masterdata.get_item(s, ctx, works.ids["bare"]).code
        assert service.get_work_order(s, ctx, wo_id).status == "draft"
    assert caught.value.field == "item_id"
    assert code in str(caught.value) and "no routing" in str(caught.value)


def test_create_refuses_bought_items_bad_dates_and_taken_numbers(works: Plant) -> None:
    with works.session() as (s, ctx):
        with pytest.raises(InvalidInput) as caught:
            service.create_work_order(s, ctx, number="WO-X", item_id=works.ids["bolt"], quantity=Decimal(1))
        assert caught.value.field == "item_id"
        with pytest.raises(InvalidInput) as caught:
            service.create_work_order(
                s,
                ctx,
                number="WO-X",
                item_id=works.ids["widget"],
                quantity=Decimal(1),
                start_date=T0.date(),
                due_date=T0.date() - timedelta(days=1),
            )
        assert caught.value.field == "due_date"
        service.create_work_order(s, ctx, number="WO-X", item_id=works.ids["widget"], quantity=Decimal(1))
        with pytest.raises(Conflict) as taken:
            service.create_work_order(s, ctx, number="WO-X", item_id=works.ids["widget"], quantity=Decimal(1))
        assert taken.value.field == "number"


def test_draft_edit_and_delete_then_released_is_fixed(works: Plant) -> None:
    wo_id = make_order(works, release=False)
    with works.session() as (s, ctx):
        service.update_work_order(s, ctx, wo_id, quantity=Decimal(3), note="rush")
        assert service.get_work_order(s, ctx, wo_id).quantity == Decimal(3)
        service.release_work_order(s, ctx, wo_id)
    with works.session() as (s, ctx):
        with pytest.raises(Conflict):
            service.update_work_order(s, ctx, wo_id, quantity=Decimal(5))
        with pytest.raises(Conflict):
            service.delete_work_order(s, ctx, wo_id)
        assert service.cancel_work_order(s, ctx, wo_id).status == "cancelled"
    draft = make_order(works, release=False)
    with works.session() as (s, ctx):
        service.delete_work_order(s, ctx, draft)
    with works.session() as (s, ctx), pytest.raises(Exception, match="not found"):
        service.get_work_order(s, ctx, draft)


def test_operation_state_machine_and_labour_from_running_intervals(works: Plant) -> None:
    wo_id = make_order(works)
    cut, _ = operation_ids(works, wo_id)
    with works.session() as (s, ctx), pytest.raises(Conflict) as caught:
        service.report_operation(s, ctx, cut, kind="pause", at=T0)
    assert caught.value.field == "kind" and "pending" in str(caught.value)
    _report(works, cut, "start", 0)
    _report(works, cut, "pause", 30, good=Decimal(4))
    _report(works, cut, "resume", 45)
    with works.session() as (s, ctx), pytest.raises(Conflict) as caught:
        service.report_operation(s, ctx, cut, kind="start", at=T0 + timedelta(minutes=50))
    assert "running" in str(caught.value)
    with works.session() as (s, ctx), pytest.raises(InvalidInput) as early:
        service.report_operation(s, ctx, cut, kind="pause", at=T0 + timedelta(minutes=40))
    assert early.value.field == "at"
    _report(works, cut, "finish", 65, good=Decimal(6), scrap=Decimal(1))
    with works.session() as (s, ctx):
        op = service.get_operation(s, ctx, cut)
        assert (op.status, op.good_quantity, op.scrap_quantity, op.labour_minutes) == (
            "finished",
            Decimal(10),
            Decimal(1),
            Decimal(50),
        )
        assert service.get_work_order(s, ctx, wo_id).status == "in_progress"
        assert [r.kind for r in service.list_reports(s, ctx, operation_id=cut)] == [
            "start",
            "pause",
            "resume",
            "finish",
        ]
        with pytest.raises(Conflict) as done:
            service.report_operation(s, ctx, cut, kind="resume", at=T0 + timedelta(minutes=70))
        assert "finished" in str(done.value)


def test_entered_labour_replaces_the_clock(works: Plant) -> None:
    wo_id = make_order(works)
    cut, _ = operation_ids(works, wo_id)
    _report(works, cut, "start", 0)
    _report(works, cut, "finish", 600, good=Decimal(1), labour_minutes=Decimal(45))
    with works.session() as (s, ctx):
        assert service.get_operation(s, ctx, cut).labour_minutes == Decimal(45)


def test_an_operation_cannot_report_more_good_than_the_previous_one(works: Plant) -> None:
    wo_id = make_order(works)
    cut, weld = operation_ids(works, wo_id)
    _report(works, cut, "start", 0)
    _report(works, cut, "report", 10, good=Decimal(3))
    _report(works, weld, "start", 11)
    _report(works, weld, "report", 12, good=Decimal(3))
    with works.session() as (s, ctx), pytest.raises(InvalidInput) as caught:
        service.report_operation(s, ctx, weld, kind="report", good=Decimal("0.5"), at=T0 + timedelta(minutes=13))
    assert caught.value.field == "good_quantity"
    assert "3.5" in str(caught.value) and "operation 10" in str(caught.value)
    # Scrap is not bounded by the previous operation's good.
    _report(works, weld, "report", 14, scrap=Decimal(2))
    _report(works, cut, "report", 15, good=Decimal(2))
    _report(works, weld, "finish", 16, good=Decimal(2))
    with works.session() as (s, ctx):
        assert service.get_operation(s, ctx, weld).good_quantity == Decimal(5)


def test_scrap_reasons_crud_and_reports_name_them(works: Plant) -> None:
    wo_id = make_order(works)
    cut, _ = operation_ids(works, wo_id)
    with works.session() as (s, ctx):
        burr = service.create_scrap_reason(s, ctx, code="BURR", name="Burr")
        old = service.create_scrap_reason(s, ctx, code="OLD", name="Old", active=False)
        with pytest.raises(Conflict):
            service.create_scrap_reason(s, ctx, code="BURR", name="again")
        ids = (burr.id, old.id)
    _report(works, cut, "start", 0)
    with works.session() as (s, ctx), pytest.raises(InvalidInput) as inactive:
        service.report_operation(
            s, ctx, cut, kind="report", scrap=Decimal(1), scrap_reason_id=ids[1], at=T0 + timedelta(minutes=1)
        )
    assert inactive.value.field == "scrap_reason_id"
    _report(works, cut, "report", 2, scrap=Decimal(1), scrap_reason_id=ids[0])
    with works.session() as (s, ctx):
        with pytest.raises(Conflict):
            service.delete_scrap_reason(s, ctx, ids[0])
        assert service.update_scrap_reason(s, ctx, ids[0], name="Burr on edge").name == "Burr on edge"
        service.delete_scrap_reason(s, ctx, ids[1])
        rows, total = service.list_scrap_reasons(s, ctx)
        assert [r.code for r in rows] == ["BURR"] and total == 1


def test_backflush_consumes_per_unit_times_good_with_fifo_lots(works: Plant) -> None:
    ids = works.ids
    works.receive("bolt", "100", "a")
    works.receive("steel", "3", "a", "steel-1")
    works.receive("steel", "10", "a", "steel-2")
    wo_id = make_order(works, quantity="10")
    with works.session() as (s, ctx):
        receipt = service.receive_work_order(
            s, ctx, wo_id, quantity=Decimal(8), location_id=ids["b"], lot_number="W-1", backflush_location_id=ids["a"]
        )
        issues = service.list_issues(s, ctx, wo_id)
        assert [(i.kind, i.quantity, i.lot_id) for i in issues] == [
            ("backflush", Decimal(16), None),
            ("backflush", Decimal(3), ids["steel-1"]),
            ("backflush", Decimal(2), ids["steel-2"]),
        ]
        assert [o.quantity for o in receipt.outputs] == [Decimal(8)]
        wo = service.get_work_order(s, ctx, wo_id)
        assert (wo.status, wo.received_quantity) == ("in_progress", Decimal(8))
        assert [c.issued_quantity for c in wo.components] == [Decimal(16), Decimal(5)]
    with works.session() as (s, ctx):
        service.receive_work_order(
            s, ctx, wo_id, quantity=Decimal(2), location_id=ids["b"], lot_number="W-2", backflush_location_id=ids["a"]
        )
        wo = service.get_work_order(s, ctx, wo_id)
        assert (wo.status, wo.received_quantity) == ("completed", Decimal(10))
        assert [c.issued_quantity for c in wo.components] == [Decimal(20), Decimal("6.25")]
        assert inventory.balance(s, ctx.require_tenant(), ids["steel"], ids["a"], ids["steel-2"]) == Decimal("6.75")


def test_backflush_tops_up_manual_issues_and_shortage_names_the_component(works: Plant) -> None:
    ids = works.ids
    works.receive("bolt", "100", "a")
    works.receive("steel", "1", "a", "steel-1")
    wo_id = make_order(works, quantity="2")
    bolts, steel = component_ids(works, wo_id)
    with works.session() as (s, ctx):
        service.issue_material(
            s, ctx, wo_id, lines=[service.IssueSpec(component_id=bolts, quantity=Decimal(3), location_id=ids["a"])]
        )
    with pytest.raises(InvalidInput) as short, works.session() as (s, ctx):
        service.receive_work_order(
            s, ctx, wo_id, quantity=Decimal(2), location_id=ids["b"], lot_number="W-9", backflush_location_id=ids["a"]
        )
    assert short.value.field == "components.1.quantity"
    works.receive("steel", "5", "a", "steel-2")
    with works.session() as (s, ctx):
        service.receive_work_order(
            s, ctx, wo_id, quantity=Decimal(2), location_id=ids["b"], lot_number="W-9", backflush_location_id=ids["a"]
        )
        issues = service.list_issues(s, ctx, wo_id)
        assert [(i.kind, i.component_id, i.quantity) for i in issues] == [
            ("manual", bolts, Decimal(3)),
            ("backflush", bolts, Decimal(1)),
            ("backflush", steel, Decimal(1)),
            ("backflush", steel, Decimal("0.25")),
        ]


def test_serial_receipt_one_serial_per_unit_and_genealogy_lists_manual_and_backflushed_lots(works: Plant) -> None:
    ids = works.ids
    works.receive("bolt", "100", "a")
    works.receive("motor", "1", "a", "motor-1")
    with works.session() as (s, ctx):
        ids["motor-2"] = inventory.create_lot(s, ctx, item_id=ids["motor"], number="MOTOR-2").id
    works.receive("motor", "1", "b", "motor-2")
    wo_id = make_order(works, item="pump", quantity="2")
    motors, _ = component_ids(works, wo_id)
    with works.session() as (s, ctx):
        service.issue_material(
            s,
            ctx,
            wo_id,
            lines=[service.IssueSpec(motors, Decimal(1), ids["b"], ids["motor-2"])],
        )
    with works.session() as (s, ctx):
        with pytest.raises(InvalidInput) as count:
            service.receive_work_order(
                s,
                ctx,
                wo_id,
                quantity=Decimal(2),
                location_id=ids["b"],
                serial_numbers=["P-1"],
                backflush_location_id=ids["a"],
            )
        assert count.value.field == "serial_numbers"
        with pytest.raises(InvalidInput) as whole:
            service.receive_work_order(
                s,
                ctx,
                wo_id,
                quantity=Decimal("1.5"),
                location_id=ids["b"],
                serial_numbers=["P-1"],
                backflush_location_id=ids["a"],
            )
        assert whole.value.field == "quantity"
    with works.session() as (s, ctx):
        receipt = service.receive_work_order(
            s,
            ctx,
            wo_id,
            quantity=Decimal(2),
            location_id=ids["b"],
            serial_numbers=["P-1", "P-2"],
            backflush_location_id=ids["a"],
        )
        serials = [o.lot_id for o in receipt.outputs]
        assert [o.quantity for o in receipt.outputs] == [Decimal(1), Decimal(1)]
        assert service.get_work_order(s, ctx, wo_id).status == "completed"
    for serial in serials:
        assert serial is not None
        # The manually issued motor (MOTOR-2) and the backflushed one (MOTOR-1, FIFO at shelf A).
        assert _lots_traced(works, serial) == {ids["motor-1"], ids["motor-2"]}
    wo2 = make_order(works, item="pump", quantity="1")
    with pytest.raises(InvalidInput) as again, works.session() as (s, ctx):
        service.receive_work_order(
            s, ctx, wo2, quantity=Decimal(1), location_id=ids["b"], serial_numbers=["P-1"], backflush=False
        )
    assert again.value.field == "serial_numbers.0"


def test_lot_receipt_traces_down_to_issued_and_backflushed_steel(works: Plant) -> None:
    ids = works.ids
    works.receive("bolt", "100", "a")
    works.receive("steel", "2", "a", "steel-1")
    works.receive("steel", "10", "b", "steel-2")
    wo_id = make_order(works, quantity="4")
    _, steel = component_ids(works, wo_id)
    with works.session() as (s, ctx):
        service.issue_material(s, ctx, wo_id, lines=[service.IssueSpec(steel, Decimal(1), ids["b"])])
    with works.session() as (s, ctx):
        receipt = service.receive_work_order(
            s, ctx, wo_id, quantity=Decimal(4), location_id=ids["b"], lot_number="W-4", backflush_location_id=ids["a"]
        )
        lot = receipt.outputs[0].lot_id
    assert lot is not None
    assert _lots_traced(works, lot) == {ids["steel-1"], ids["steel-2"]}


def test_receipt_without_backflush_and_closing(works: Plant) -> None:
    ids = works.ids
    wo_id = make_order(works, quantity="5")
    with works.session() as (s, ctx):
        with pytest.raises(InvalidInput) as missing:
            service.receive_work_order(s, ctx, wo_id, quantity=Decimal(1), location_id=ids["b"], lot_number="W-5")
        assert missing.value.field == "backflush_location_id"
        service.receive_work_order(
            s, ctx, wo_id, quantity=Decimal(1), location_id=ids["b"], lot_number="W-5", backflush=False
        )
        assert service.list_issues(s, ctx, wo_id) == []
        assert service.close_work_order(s, ctx, wo_id).status == "closed"
    with works.session() as (s, ctx), pytest.raises(Conflict):
        service.receive_work_order(s, ctx, wo_id, quantity=Decimal(1), location_id=ids["b"], lot_number="W-6")
    with works.session() as (s, ctx), pytest.raises(Conflict):
        service.cancel_work_order(s, ctx, wo_id)


def test_machine_counts_go_to_the_running_operation_of_the_linked_work_centre(works: Plant) -> None:
    ids = works.ids
    with works.session() as (s, ctx):
        assert (
            service.report_machine_counts(s, ctx, equipment_id=ids["machine"], good=Decimal(1), scrap=Decimal(0), at=T0)
            is None
        )
    wo_id = make_order(works)
    cut, weld = operation_ids(works, wo_id)
    _report(works, cut, "start", 0)
    _report(works, cut, "report", 5, good=Decimal(5))
    _report(works, weld, "start", 6)
    with works.session() as (s, ctx):
        report = service.report_machine_counts(
            s, ctx, equipment_id=ids["machine"], good=Decimal(2), scrap=Decimal(1), at=T0 + timedelta(minutes=7)
        )
        assert report is not None
        assert (report.operation_id, report.kind, report.source) == (weld, "report", "machine")
        op = service.get_operation(s, ctx, weld)
        assert (op.good_quantity, op.scrap_quantity) == (Decimal(2), Decimal(1))
        # Another machine runs nothing.
        assert (
            service.report_machine_counts(
                s,
                ctx,
                equipment_id=ids["machine"] + 100000,
                good=Decimal(1),
                scrap=Decimal(0),
                at=T0 + timedelta(minutes=8),
            )
            is None
        )
    _report(works, weld, "pause", 9)
    with works.session() as (s, ctx):
        assert (
            service.report_machine_counts(
                s, ctx, equipment_id=ids["machine"], good=Decimal(1), scrap=Decimal(0), at=T0 + timedelta(minutes=10)
            )
            is None
        )


def test_operation_reports_for_kpis(works: Plant) -> None:
    wo_id = make_order(works)
    cut, _ = operation_ids(works, wo_id)
    with works.session() as (s, ctx):
        burr = service.create_scrap_reason(s, ctx, code="BURR", name="Burr").id
    _report(works, cut, "start", 0)
    _report(works, cut, "pause", 20, good=Decimal(3), scrap=Decimal(1), scrap_reason_id=burr)
    _report(works, cut, "resume", 30)
    _report(works, cut, "finish", 40, good=Decimal(2))
    with works.session() as (s, ctx):
        rows = service.operation_reports(s, ctx, since=T0 + timedelta(minutes=10), until=T0 + timedelta(hours=1))
        wo = service.get_work_order(s, ctx, wo_id)
    assert [(r.kind, r.good, r.scrap, r.scrap_reason_code, r.labour_minutes) for r in rows] == [
        ("pause", Decimal(3), Decimal(1), "BURR", Decimal(20)),
        ("resume", Decimal(0), Decimal(0), None, Decimal(0)),
        ("finish", Decimal(2), Decimal(0), None, Decimal(10)),
    ]
    assert {(r.work_order_number, r.item_id, r.sequence, r.work_centre_id) for r in rows} == {
        (wo.number, works.ids["widget"], 10, works.ids["cut_wc"])
    }


def test_operator_reports_but_does_not_edit(works: Plant, actor_factory: object) -> None:
    wo_id = make_order(works)
    cut, _ = operation_ids(works, wo_id)
    operator = actor_factory("operator", tenant=works.actor.tenant)  # type: ignore[operator]
    from hexmill.core import identity  # noqa: PLC0415 - only this test builds a second context
    from hexmill.core.db import transaction  # noqa: PLC0415
    from hexmill.core.tenancy import set_scope  # noqa: PLC0415

    with transaction(works.factory) as s:
        set_scope(s, works.actor.tenant.id)
        ctx = identity.build_context(s, operator.user, works.actor.tenant.id)
        service.report_operation(s, ctx, cut, kind="start", at=T0)
        with pytest.raises(PermissionDenied):
            service.close_work_order(s, ctx, wo_id)


def test_a_work_order_may_serve_a_sales_order_line_of_its_item(works: Plant) -> None:
    from hexmill.factory.sales import service as sales  # noqa: PLC0415 - only this test sells

    ids = works.ids
    with works.session() as (s, ctx):
        customer = masterdata.create_party(s, ctx, code="CUS-WO", name="Buyer", is_customer=True).id
        order = sales.create_sales_order(
            s,
            ctx,
            number="SO-WO-1",
            customer_id=customer,
            lines=[
                {"item_id": ids["widget"], "quantity": Decimal(10)},
                {"item_id": ids["pump"], "quantity": Decimal(1)},
            ],
        )
        widget_line, pump_line = (line.id for line in order.lines)
        wo = service.create_work_order(
            s, ctx, number="WO-SO-1", item_id=ids["widget"], quantity=Decimal(10), sales_order_line_id=widget_line
        )
        assert service.list_work_orders(s, ctx, filters={"sales_order_line_id": widget_line})[0] == [wo]
        with pytest.raises(InvalidInput) as other_item:
            service.update_work_order(s, ctx, wo.id, sales_order_line_id=pump_line)
        assert other_item.value.field == "sales_order_line_id"
        with pytest.raises(InvalidInput) as missing:
            service.create_work_order(
                s, ctx, number="WO-SO-2", item_id=ids["widget"], quantity=Decimal(1), sales_order_line_id=2**31 - 2
            )
        assert missing.value.field == "sales_order_line_id"
        assert service.update_work_order(s, ctx, wo.id, clear_sales_order_line=True).sales_order_line_id is None
        service.update_work_order(s, ctx, wo.id, sales_order_line_id=widget_line)
        wo_id, order_id = wo.id, order.id
    with works.session() as (s, ctx):
        sales.delete_sales_order(s, ctx, order_id)  # a draft order: its lines go, the work order stays
    with works.session() as (s, ctx):
        assert service.get_work_order(s, ctx, wo_id).sales_order_line_id is None
