"""Master data a released work order still names cannot be deleted from under it: a refusal, not a crash."""

from __future__ import annotations

import pytest

from hexmill.core.errors import Conflict
from hexmill.factory.masterdata import service as masterdata
from tests.factory.inventory.conftest import Plant
from tests.factory.production.conftest import make_order


def test_a_work_centre_named_by_a_released_order_is_refused_by_name(works: Plant) -> None:
    make_order(works)
    with works.session() as (s, ctx):
        # The routing no longer uses the saw, but the released order's snapshot still does.
        masterdata.delete_operation(s, ctx, works.ids["cut"])
    with pytest.raises(Conflict) as refused, works.session() as (s, ctx):
        masterdata.delete_work_centre(s, ctx, works.ids["cut_wc"])
    assert refused.value.field == "work_centre_id"
    assert "still named by work orders" in str(refused.value)
    with works.session() as (s, ctx):
        assert masterdata.get_work_centre(s, ctx, works.ids["cut_wc"]).id == works.ids["cut_wc"]
