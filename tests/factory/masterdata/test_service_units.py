"""Service tests of units, conversions and items: default units, conversion chains, refusals."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from hexmill.core.errors import Conflict, InvalidInput, NotFound
from hexmill.factory.masterdata import service
from tests.factory.masterdata.conftest import Scoped


def _units(s: Scoped) -> dict[str, int]:
    uoms, _total = service.list_uoms(s.session, s.ctx, limit=500)
    return {u.code: u.id for u in uoms}


def test_default_units_are_seeded_once(scoped_factory: Callable[..., Scoped]) -> None:
    s = scoped_factory()
    first = _units(s)
    assert {"pcs", "kg", "g", "m", "mm", "l", "h", "min"} <= set(first)
    assert service.ensure_default_uoms(s.session, s.ctx) is False
    assert _units(s) == first


def test_convert_quantity_follows_item_and_general_factors(scoped_factory: Callable[..., Scoped]) -> None:
    s = scoped_factory()
    u = _units(s)
    box = service.create_uom(s.session, s.ctx, code="box", name="Box", category="count")
    item = service.create_item(s.session, s.ctx, code="SCREW", name="Screw M4", kind="raw", uom_id=u["pcs"])
    service.create_conversion(
        s.session, s.ctx, from_uom_id=box.id, to_uom_id=u["pcs"], factor=Decimal(12), item_id=item.id
    )
    convert = service.convert_quantity
    assert convert(s.session, s.ctx, item_id=item.id, quantity=Decimal(3), from_uom_id=box.id, to_uom_id=u["pcs"]) == 36
    assert convert(s.session, s.ctx, item_id=item.id, quantity=Decimal(6), from_uom_id=u["pcs"], to_uom_id=box.id) == (
        Decimal("0.5")
    )
    steel = service.create_item(s.session, s.ctx, code="STEEL", name="Steel", kind="raw", uom_id=u["kg"])
    grams = convert(s.session, s.ctx, item_id=steel.id, quantity=Decimal("0.002"), from_uom_id=u["t"], to_uom_id=u["g"])
    assert grams == Decimal(2000)


def test_conversion_without_factor_is_refused_naming_both_units(scoped_factory: Callable[..., Scoped]) -> None:
    s = scoped_factory()
    u = _units(s)
    box = service.create_uom(s.session, s.ctx, code="box", name="Box", category="count")
    item = service.create_item(s.session, s.ctx, code="NUT", name="Nut", kind="raw", uom_id=u["pcs"])
    with pytest.raises(InvalidInput) as exc:
        service.convert_quantity(
            s.session, s.ctx, item_id=item.id, quantity=Decimal(1), from_uom_id=box.id, to_uom_id=u["pcs"]
        )
    assert "box" in str(exc.value)
    assert "pcs" in str(exc.value)
    with pytest.raises(InvalidInput) as exc:
        service.convert_quantity(
            s.session, s.ctx, item_id=item.id, quantity=Decimal(1), from_uom_id=u["kg"], to_uom_id=u["m"]
        )
    assert "kg" in str(exc.value)
    assert "m" in str(exc.value)


def test_general_conversion_across_categories_is_refused(scoped_factory: Callable[..., Scoped]) -> None:
    s = scoped_factory()
    u = _units(s)
    with pytest.raises(InvalidInput) as exc:
        service.create_conversion(s.session, s.ctx, from_uom_id=u["kg"], to_uom_id=u["l"], factor=Decimal(1))
    assert exc.value.field == "item_id"
    with pytest.raises(Conflict):
        service.create_conversion(s.session, s.ctx, from_uom_id=u["g"], to_uom_id=u["kg"], factor=Decimal("0.001"))


def test_get_item_hides_other_tenants_items(scoped_factory: Callable[..., Scoped]) -> None:
    a = scoped_factory()
    b = scoped_factory()
    item = service.create_item(a.session, a.ctx, code="X", name="X", kind="finished", uom_id=_units(a)["pcs"])
    a.session.commit()
    assert service.get_item(a.session, a.ctx, item.id).code == "X"
    with pytest.raises(NotFound):
        service.get_item(b.session, b.ctx, item.id)
    with pytest.raises(NotFound):
        service.get_item(b.session, b.ctx, 2**31 - 1)


def test_item_code_is_unique_per_tenant(scoped_factory: Callable[..., Scoped]) -> None:
    a = scoped_factory()
    b = scoped_factory()
    service.create_item(a.session, a.ctx, code="DUP", name="A", kind="raw", uom_id=_units(a)["pcs"])
    with pytest.raises(Conflict):
        service.create_item(a.session, a.ctx, code="DUP", name="B", kind="raw", uom_id=_units(a)["pcs"])
    a.session.rollback()
    assert service.create_item(b.session, b.ctx, code="DUP", name="B", kind="raw", uom_id=_units(b)["pcs"]).id
