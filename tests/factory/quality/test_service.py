"""Quality through the service on a real database: plan validation naming the field, plans in use keep
their characteristics, inspections that open nonconformances, each disposition's stock moves and the
on-hand figures after them, over-disposition refused, capability, Pareto and the defect summary."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hexmill.core.clock import utcnow
from hexmill.core.errors import Conflict, InvalidInput, PermissionDenied
from hexmill.factory.inventory import service as inventory
from hexmill.factory.quality import service
from hexmill.factory.quality.service import DispositionSpec
from tests.factory.inventory.conftest import Plant
from tests.factory.quality.conftest import bolt_results, diameter_plan

D = Decimal


def _on_hand(lab: Plant, item: str, location: str) -> Decimal:
    with lab.session() as (s, ctx):
        rows, _ = inventory.stock_on_hand(s, ctx, filters={"item_id": lab.ids[item]}, limit=500)
    return sum((r.on_hand for r in rows if r.location_id == lab.ids[location]), D(0))


def _inspect(lab: Plant, **kwargs: Any) -> tuple[int, str, list[int]]:
    fields: dict[str, Any] = {
        "source_type": "receipt",
        "source_id": "17",
        "item_id": lab.ids["bolt"],
        "location_id": lab.ids["a"],
        "quantity": D(100),
        "supplier_id": lab.ids["vendor"],
        "results": bolt_results(lab),
    }
    fields.update(kwargs)
    with lab.session() as (s, ctx):
        row = service.create_inspection(s, ctx, **fields)
        return row.id, row.result, row.nonconformance_ids


def _field(exc: pytest.ExceptionInfo[InvalidInput]) -> str | None:
    return exc.value.field


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lsl": None, "usl": None}, "characteristics.0.lsl"),
        ({"lsl": D(11)}, "characteristics.0.usl"),
        ({"lsl": D("10.5"), "usl": D("10.5")}, "characteristics.0.usl"),
        ({"sample_size": None}, "characteristics.0.sample_size"),
        ({"sample_pct": D(5)}, "characteristics.0.sample_pct"),
        ({"nominal": D(12)}, "characteristics.0.nominal"),
        ({"defect_code_id": 2**31 - 1}, "characteristics.0.defect_code_id"),
    ],
)
def test_plan_validation_names_the_field(lab: Plant, change: dict[str, Any], field: str) -> None:
    fields = diameter_plan()
    fields["characteristics"][0].update(change)
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.create_inspection_plan(s, ctx, **fields)
    assert _field(exc) == field


def test_plan_checks_attributes_items_and_codes(lab: Plant) -> None:
    fields = diameter_plan()
    fields["characteristics"][1]["usl"] = D(1)
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.create_inspection_plan(s, ctx, **fields)
    assert _field(exc) == "characteristics.1.usl"
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.create_inspection_plan(s, ctx, **{**diameter_plan(), "characteristics": []})
    assert _field(exc) == "characteristics"
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.create_inspection_plan(s, ctx, **diameter_plan(item_id=2**31 - 1))
    assert _field(exc) == "item_id"
    fields = diameter_plan()
    with lab.session() as (s, ctx):
        service.create_inspection_plan(s, ctx, **fields)
    with lab.session() as (s, ctx), pytest.raises(Conflict) as conflict:
        service.create_inspection_plan(s, ctx, **fields)
    assert conflict.value.field == "code"
    # A one-sided limit is enough for a variable; a percentage sample is fine alone.
    one_sided = diameter_plan()
    one_sided["characteristics"][0].update({"lsl": None, "nominal": None, "sample_size": None, "sample_pct": D(5)})
    with lab.session() as (s, ctx):
        plan = service.create_inspection_plan(s, ctx, **one_sided)
        assert plan.characteristics[0].usl == D("10.5") and plan.characteristics[0].lsl is None


def test_a_used_plan_keeps_its_characteristics(lab: Plant) -> None:
    new = diameter_plan()["characteristics"][:1]
    with lab.session() as (s, ctx):
        plan = service.update_inspection_plan(s, ctx, lab.ids["plan"], characteristics=new)
        assert [c.name for c in plan.characteristics] == ["Diameter"]
        lab.ids["diameter"] = plan.characteristics[0].id
    _inspect(lab, results=bolt_results(lab)[:3])
    with lab.session() as (s, ctx), pytest.raises(Conflict) as exc:
        service.update_inspection_plan(s, ctx, lab.ids["plan"], characteristics=diameter_plan()["characteristics"])
    assert exc.value.field == "characteristics"
    with lab.session() as (s, ctx), pytest.raises(Conflict):
        service.delete_inspection_plan(s, ctx, lab.ids["plan"])
    with lab.session() as (s, ctx):
        plan = service.update_inspection_plan(s, ctx, lab.ids["plan"], name="Renamed", active=False)
        assert (plan.name, plan.active, len(plan.characteristics)) == ("Renamed", False, 1)


def test_passing_inspection_opens_nothing(lab: Plant) -> None:
    inspection_id, result, ncs = _inspect(lab)
    assert (result, ncs) == ("pass", [])
    with lab.session() as (s, ctx):
        row = service.get_inspection(s, ctx, inspection_id)
        assert row.plan_id == lab.ids["plan"]  # the active plan for bolts at receipt, found by itself
        assert [(r.sample, r.value, r.in_tolerance) for r in row.results][:3] == [
            (1, D(10), True),
            (2, D("10.1"), True),
            (3, D("9.9"), True),
        ]


def test_out_of_tolerance_opens_a_nonconformance(lab: Plant) -> None:
    lab.receive("bolt", "100")
    _, result, ncs = _inspect(lab, results=bolt_results(lab, ("10", "10.6", "9.9")), affected_quantity=D(12))
    assert result == "fail" and len(ncs) == 1
    with lab.session() as (s, ctx):
        nc = service.get_nonconformance(s, ctx, ncs[0])
        assert (nc.status, nc.stage, nc.quantity, nc.characteristics) == ("open", "receipt", D(12), "Diameter")
        assert (nc.item_id, nc.location_id, nc.lot_id, nc.supplier_id) == (
            lab.ids["bolt"],
            lab.ids["a"],
            None,
            lab.ids["vendor"],
        )
        assert nc.defect_code_id == lab.ids["size"]  # the failing characteristic's own code
    _, _, ncs = _inspect(lab, results=bolt_results(lab, surface=False), defect_code_id=lab.ids["scratch"])
    with lab.session() as (s, ctx):
        nc = service.get_nonconformance(s, ctx, ncs[0])
        assert (nc.quantity, nc.characteristics, nc.defect_code_id) == (D(100), "Surface", lab.ids["scratch"])
    _, _, ncs = _inspect(lab, results=bolt_results(lab, ("9.4", "10", "10"), surface=False))
    with lab.session() as (s, ctx):
        assert service.get_nonconformance(s, ctx, ncs[0]).characteristics == "Diameter, Surface"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"results": []}, "results"),
        ({"affected_quantity": D(101)}, "affected_quantity"),
        ({"source_type": "final"}, "plan_id"),
        ({"source_type": "other"}, "plan_id"),
        ({"lot_id": -1}, "lot_id"),
        ({"location_id": "scrap"}, "location_id"),
    ],
)
def test_inspection_input_errors_name_the_field(lab: Plant, change: dict[str, Any], field: str) -> None:
    if change.get("lot_id") == -1:
        change = {"lot_id": lab.ids["steel-1"]}  # a lot of another item
    if change.get("location_id") == "scrap":
        change = {"location_id": lab.ids["scrap"]}
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        _inspect_in(s, ctx, lab, **change)
    assert _field(exc) == field


def _inspect_in(s: Any, ctx: Any, lab: Plant, **kwargs: Any) -> Any:
    fields: dict[str, Any] = {
        "source_type": "receipt",
        "item_id": lab.ids["bolt"],
        "location_id": lab.ids["a"],
        "quantity": D(100),
        "results": bolt_results(lab),
    }
    return service.create_inspection(s, ctx, **{**fields, **kwargs})


def test_result_errors_name_the_result(lab: Plant) -> None:
    rows = bolt_results(lab)
    cases = [
        ([*rows, {"characteristic_id": lab.ids["diameter"], "sample": 4, "value": D(10)}], "results.4.sample"),
        ([*rows, {"characteristic_id": lab.ids["diameter"], "sample": 1, "value": D(10)}], "results.4.sample"),
        ([{**rows[0], "value": None, "passed": True}, *rows[1:]], "results.0.value"),
        ([*rows[:3], {"characteristic_id": lab.ids["surface"], "value": D(1)}], "results.3.passed"),
        ([*rows, {"characteristic_id": 2**31 - 1, "value": D(1)}], "results.4.characteristic_id"),
        (rows[:3], "results"),
    ]
    for submitted, field in cases:
        with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
            _inspect_in(s, ctx, lab, results=submitted)
        assert _field(exc) == field, submitted


def _nc(lab: Plant, quantity: str = "10", **kwargs: Any) -> int:
    fields: dict[str, Any] = {
        "item_id": lab.ids["bolt"],
        "location_id": lab.ids["a"],
        "quantity": D(quantity),
        "stage": "receipt",
        "supplier_id": lab.ids["vendor"],
        "defect_code_id": lab.ids["scratch"],
    }
    fields.update(kwargs)
    with lab.session() as (s, ctx):
        return service.create_nonconformance(s, ctx, **fields).id


def _moves(lab: Plant, nc_id: int) -> list[tuple[int, int, Decimal]]:
    with lab.session() as (s, ctx):
        rows, _ = inventory.list_moves(
            s, ctx, filters={"reference_type": "nonconformance", "reference_id": str(nc_id)}, limit=100
        )
        return sorted((m.from_location_id, m.to_location_id, m.quantity) for m in rows)


def test_split_disposition_posts_each_move_and_moves_the_stock(lab: Plant) -> None:
    lab.receive("bolt", "50")
    nc_id = _nc(lab, "20")
    with lab.session() as (s, ctx):
        nc = service.disposition(
            s,
            ctx,
            nc_id,
            lines=[
                DispositionSpec("scrap", D(5)),
                DispositionSpec("return", D(6)),
                DispositionSpec("rework", D(4), to_location_id=lab.ids["b"]),
                DispositionSpec("use_as_is", D(5), approver="QA lead"),
            ],
        )
        assert (nc.status, nc.dispositioned_quantity) == ("dispositioned", D(20))
        kinds = [(d.kind, d.quantity, d.to_location_id, d.supplier_id, d.approver) for d in nc.dispositions]
        assert kinds == [
            ("scrap", D(5), None, None, ""),
            ("return", D(6), None, lab.ids["vendor"], ""),
            ("rework", D(4), lab.ids["b"], None, ""),
            ("use_as_is", D(5), None, None, "QA lead"),
        ]
        assert nc.dispositions[3].move_id is None
        assert all(d.move_id for d in nc.dispositions[:3])
    a, b = lab.ids["a"], lab.ids["b"]
    assert _moves(lab, nc_id) == sorted([(a, lab.ids["scrap"], D(5)), (a, lab.ids["supplier"], D(6)), (a, b, D(4))])
    assert _on_hand(lab, "bolt", "a") == D(35)
    assert _on_hand(lab, "bolt", "b") == D(4)
    with lab.session() as (s, ctx):
        assert service.close_nonconformance(s, ctx, nc_id).status == "closed"


def test_over_disposition_is_refused_naming_the_line(lab: Plant) -> None:
    lab.receive("bolt", "50")
    nc_id = _nc(lab, "10")
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D(6)), DispositionSpec("scrap", D(5))])
    assert _field(exc) == "lines.1.quantity"
    assert exc.value.params["left"] == "4"
    assert _on_hand(lab, "bolt", "a") == D(50)  # every line is checked before any move is posted
    with lab.session() as (s, ctx):
        nc = service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D(6))])
        assert nc.status == "open"  # four are still undecided
    with lab.session() as (s, ctx), pytest.raises(Conflict):
        service.close_nonconformance(s, ctx, nc_id)
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D("4.000001"))])
    assert _field(exc) == "lines.0.quantity"
    with lab.session() as (s, ctx):
        service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D(4))])
    with lab.session() as (s, ctx), pytest.raises(Conflict):
        service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D(1))])
    assert _on_hand(lab, "bolt", "a") == D(40)


def test_disposition_rules_name_the_field(lab: Plant) -> None:
    lab.receive("bolt", "50")
    final_nc = _nc(lab, "5", stage="final", supplier_id=None)
    receipt_nc = _nc(lab, "5", supplier_id=None)
    cases = [
        (final_nc, DispositionSpec("return", D(1)), "lines.0.kind"),
        (receipt_nc, DispositionSpec("return", D(1)), "lines.0.supplier_id"),
        (receipt_nc, DispositionSpec("rework", D(1)), "lines.0.to_location_id"),
        (receipt_nc, DispositionSpec("rework", D(1), to_location_id=lab.ids["a"]), "lines.0.to_location_id"),
        (receipt_nc, DispositionSpec("rework", D(1), to_location_id=lab.ids["scrap"]), "lines.0.to_location_id"),
        (receipt_nc, DispositionSpec("scrap", D(1), to_location_id=lab.ids["b"]), "lines.0.to_location_id"),
    ]
    for nc_id, spec, field in cases:
        with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
            service.disposition(s, ctx, nc_id, lines=[spec])
        assert _field(exc) == field, spec
    with lab.session() as (s, ctx):
        nc = service.disposition(
            s, ctx, receipt_nc, lines=[DispositionSpec("return", D(5), supplier_id=lab.ids["vendor"])]
        )
        assert nc.supplier_id == lab.ids["vendor"]
    # Scrapping more than is on hand is the ledger's refusal, named on the line.
    empty_nc = _nc(lab, "500")
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.disposition(s, ctx, empty_nc, lines=[DispositionSpec("scrap", D(100))])
    assert (exc.value.field or "").startswith("lines.0.")


def test_tracked_items_disposition_their_lot(lab: Plant) -> None:
    lab.receive("steel", "30", lot="steel-1")
    lab.receive("steel", "30", lot="steel-2")
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        service.create_nonconformance(s, ctx, item_id=lab.ids["steel"], location_id=lab.ids["a"], quantity=D(1))
    assert _field(exc) == "lot_id"
    nc_id = _nc(lab, "8", item_id=lab.ids["steel"], lot_id=lab.ids["steel-2"])
    with lab.session() as (s, ctx):
        service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D(8))])
        rows, _ = inventory.stock_on_hand(s, ctx, filters={"item_id": lab.ids["steel"]}, limit=50)
        by_lot = {r.lot_id: r.on_hand for r in rows if r.location_id == lab.ids["a"]}
    assert by_lot == {lab.ids["steel-1"]: D(30), lab.ids["steel-2"]: D(22)}


def test_use_as_is_needs_no_move_permission_but_moves_do(lab: Plant, actor_factory: Any) -> None:
    lab.receive("bolt", "10")
    nc_id = _nc(lab, "4")
    inspector = actor_factory("quality", tenant=lab.actor.tenant)
    person = Plant(actor=inspector, ids=lab.ids, factory=lab.factory)
    with person.session() as (s, ctx), pytest.raises(PermissionDenied):
        service.disposition(s, ctx, nc_id, lines=[DispositionSpec("scrap", D(1))])
    with person.session() as (s, ctx):
        nc = service.disposition(s, ctx, nc_id, lines=[DispositionSpec("use_as_is", D(4))])
        assert nc.dispositions[0].approver == inspector.user.username
        assert nc.status == "dispositioned"


def test_list_puts_open_nonconformances_first(lab: Plant) -> None:
    lab.receive("bolt", "10")
    first = _nc(lab, "1")
    second = _nc(lab, "1")
    third = _nc(lab, "1")
    with lab.session() as (s, ctx):
        service.disposition(s, ctx, second, lines=[DispositionSpec("use_as_is", D(1), approver="x")])
        rows, total = service.list_nonconformances(s, ctx)
        assert [r.id for r in rows] == [third, first, second] and total == 3
        rows, total = service.list_nonconformances(s, ctx, filters={"status": "open"})
        assert total == 2


def test_capability_from_recorded_values(lab: Plant) -> None:
    for values in (("10", "10.1", "9.9"), ("10.2", "9.8", "10")):
        _inspect(lab, results=bolt_results(lab, values))
    with lab.session() as (s, ctx):
        cap = service.capability(s, ctx, lab.ids["diameter"])
    assert cap.n == 6
    assert cap.mean == D(10)
    # sigma = sqrt(0.1 / 5) = 0.141421...; Cp = 1 / (6 sigma) = 1.1785
    assert cap.sigma == D("0.141421")
    assert cap.cp == D("1.1785") and cap.cpk == D("1.1785")
    assert sum(b.count for b in cap.bins) == 6
    assert cap.bins[0].low == D("9.5") and cap.bins[-1].high == D("10.5")
    with lab.session() as (s, ctx):
        empty = service.capability(s, ctx, lab.ids["diameter"], since=utcnow() + timedelta(days=1))
        assert (empty.n, empty.cp, empty.cpk, empty.bins) == (0, None, None, [])
    with lab.session() as (s, ctx), pytest.raises(InvalidInput):
        service.capability(s, ctx, lab.ids["surface"])


def test_pareto_and_defect_summary(lab: Plant) -> None:
    lab.receive("bolt", "100")
    start = utcnow() - timedelta(seconds=1)
    _inspect(lab, results=bolt_results(lab, ("11", "10", "10")), affected_quantity=D(3))  # size
    _inspect(lab, quantity=D(50), results=bolt_results(lab, surface=False), defect_code_id=lab.ids["scratch"])
    _nc(lab, "2", defect_code_id=lab.ids["scratch"])
    _nc(lab, "7", defect_code_id=None)
    end = utcnow() + timedelta(seconds=1)
    with lab.session() as (s, ctx):
        report = service.pareto(s, ctx, since=start, until=end)
        assert [(b.label, b.count, b.quantity, b.cumulative_pct) for b in report.bars] == [
            ("D-SCR", 2, D(52), D(50)),
            ("", 1, D(7), D(75)),
            ("D-DIM", 1, D(3), D(100)),
        ]
        by_qty = service.pareto(s, ctx, since=start, until=end, by="quantity")
        assert [b.label for b in by_qty.bars] == ["D-SCR", "", "D-DIM"]
        summary = service.defect_summary(s, ctx, since=start, until=end)
        assert [(r.item_id, r.inspected_quantity, r.nonconforming_quantity) for r in summary] == [
            (lab.ids["bolt"], D(150), D(62))
        ]
        assert service.defect_summary(s, ctx, since=end, until=end + timedelta(days=1)) == []


def test_defect_codes_crud_and_in_use(lab: Plant) -> None:
    with lab.session() as (s, ctx):
        code = service.update_defect_code(s, ctx, lab.ids["scratch"], name="Scratched", category="finish")
        assert (code.code, code.name, code.category) == ("D-SCR", "Scratched", "finish")
    with lab.session() as (s, ctx), pytest.raises(Conflict) as exc:
        service.update_defect_code(s, ctx, lab.ids["scratch"], code="D-DIM")
    assert exc.value.field == "code"
    _nc(lab, "1")
    with lab.session() as (s, ctx), pytest.raises(Conflict):
        service.delete_defect_code(s, ctx, lab.ids["scratch"])
    with lab.session() as (s, ctx):
        spare = service.create_defect_code(s, ctx, code="D-X", name="Spare")
        service.delete_defect_code(s, ctx, spare.id)
        rows, total = service.list_defect_codes(s, ctx)
        assert [r.code for r in rows] == ["D-DIM", "D-SCR"] and total == 2


def test_final_inspection_by_percentage_sampling(lab: Plant) -> None:
    """The production flow's call: a final inspection against the active final plan for any item."""
    fields = diameter_plan("final")
    fields["characteristics"] = [{"name": "Function", "kind": "attribute", "sample_pct": D(10)}]
    with lab.session() as (s, ctx):
        plan = service.create_inspection_plan(s, ctx, **fields)
        char = plan.characteristics[0].id
    rows = [{"characteristic_id": char, "sample": n, "passed": True} for n in range(1, 4)]
    _, result, _ = _inspect(lab, source_type="final", source_id="WO-1", quantity=D(21), results=rows)
    assert result == "pass"  # 10 % of 21 rounds up to 3 samples
    with lab.session() as (s, ctx), pytest.raises(InvalidInput) as exc:
        rows4 = [*rows, {"characteristic_id": char, "sample": 4, "passed": True}]
        service.create_inspection(
            s,
            ctx,
            source_type="final",
            item_id=lab.ids["paint"],
            location_id=lab.ids["a"],
            quantity=D(21),
            results=rows4,
        )
    assert _field(exc) == "results.3.sample"


# Batches of disposition lines against one NC of 10 bolts (30 on hand at shelf A): each batch is
# accepted whole if its sum fits what is left, refused whole otherwise.
batches = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["scrap", "return", "rework", "use_as_is"]),
            st.decimals(min_value="0.5", max_value="6", places=1),
        ),
        min_size=1,
        max_size=3,
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches)
def test_dispositions_never_exceed_and_match_the_moves(lab_factory: Any, sequence: Any) -> None:
    """For any batches, the dispositioned quantity is the accepted sum, at most the affected one, and the moves'."""
    lab = lab_factory()
    lab.receive("bolt", "30")
    nc_id = _nc(lab, "10")
    accepted = D(0)
    moved = D(0)
    for batch in sequence:
        specs = [
            DispositionSpec(kind, qty, to_location_id=lab.ids["b"] if kind == "rework" else None, approver="QA")
            for kind, qty in batch
        ]
        total = sum((q for _, q in batch), D(0))
        if accepted + total <= D(10):
            with lab.session() as (s, ctx):
                service.disposition(s, ctx, nc_id, lines=specs)
            accepted += total
            moved += sum((q for kind, q in batch if kind != "use_as_is"), D(0))
        else:
            with pytest.raises((InvalidInput, Conflict)), lab.session() as (s, ctx):
                service.disposition(s, ctx, nc_id, lines=specs)
    with lab.session() as (s, ctx):
        nc = service.get_nonconformance(s, ctx, nc_id)
        assert nc.dispositioned_quantity == accepted == sum((d.quantity for d in nc.dispositions), D(0))
        assert nc.status == ("dispositioned" if accepted == D(10) else "open")
        assert inventory.verify_balances(s, ctx) == []
    assert sum((q for _, _, q in _moves(lab, nc_id)), D(0)) == moved
    assert _on_hand(lab, "bolt", "a") == D(30) - moved
