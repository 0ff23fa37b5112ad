"""Labels of items and parties by id, for pages that show figures of many of them."""

from __future__ import annotations

from collections.abc import Callable

from hexmill.factory.masterdata import service
from tests.factory.masterdata.conftest import Scoped


def test_labels_name_items_and_parties_of_the_enterprise_only(scoped_factory: Callable[..., Scoped]) -> None:
    ours, theirs = scoped_factory(), scoped_factory()
    foreign = service.create_party(theirs.session, theirs.ctx, code="X", name="Elsewhere", is_customer=True).id
    theirs.session.commit()
    s, ctx = ours.session, ours.ctx
    uom = service.create_uom(s, ctx, code="pc", name="Piece", category="count")
    item = service.create_item(s, ctx, code="BOLT", name="Bolt", kind="raw", uom_id=uom.id)
    party = service.create_party(s, ctx, code="C1", name="Customer One", is_customer=True).id
    found = service.labels(s, ctx, item_ids=[item.id], party_ids=[party, foreign])
    assert found["items"] == {item.id: ("BOLT", "Bolt")}
    assert found["parties"] == {party: ("C1", "Customer One")}
