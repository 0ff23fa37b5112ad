"""REST API of purchasing under /factory/purchase-orders: drafts, confirmation, cancellation, receipts.

The list has a CSV twin (``/factory/purchase-orders.csv``) taking the same filters, through the
same filter set as the console.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.export import csv_download
from hexmill.core.pagination import MAX_LIMIT, Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.purchasing import service
from hexmill.factory.purchasing.filters import ORDER_FILTERS
from hexmill.factory.purchasing.schemas import (
    OrderCreate,
    OrderDetail,
    OrderLineCreate,
    OrderLineRead,
    OrderLineUpdate,
    OrderRead,
    OrderUpdate,
    ReceiptCreate,
    ReceiptRead,
)

router = APIRouter(prefix="/factory")
TAG = "purchasing"
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED
CSV_COLUMNS = ("id", "number", "supplier_id", "order_date", "expected_date", "status", "created_at", "confirmed_at")


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see purchase orders (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change purchase orders."""
    ctx.require(service.EDIT)
    return ctx


def receiver(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may receive goods: change orders and move stock."""
    ctx.require(service.EDIT)
    ctx.require(service.MOVE)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]
Receiver = Annotated[Context, Depends(receiver)]
OrderFilters = Annotated[dict[str, Any], Depends(ORDER_FILTERS.dependency())]


@router.get("/purchase-orders", response_model=Page[OrderRead], tags=[TAG])
def list_purchase_orders(
    db: DbSession, ctx: Viewer, filters: OrderFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List purchase orders, newest first, filtered by number, supplier and status."""
    rows, total = service.list_purchase_orders(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(OrderRead, rows, total, offset, limit)


@router.get("/purchase-orders.csv", tags=[TAG], response_class=Response)
def export_purchase_orders(db: DbSession, ctx: Viewer, filters: OrderFilters) -> Response:
    """Export every purchase order matching the filters as CSV."""
    return csv_download(
        "purchase-orders",
        CSV_COLUMNS,
        lambda o: service.list_purchase_orders(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/purchase-orders", response_model=OrderDetail, status_code=CREATED, tags=[TAG])
def create_purchase_order(body: OrderCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a draft purchase order with its lines; errors on a line name it ("lines.2.quantity")."""
    data = body.model_dump()
    return service.create_purchase_order(db, ctx, **data)


@router.get("/purchase-orders/{order_id}", response_model=OrderDetail, tags=[TAG])
def get_purchase_order(order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one purchase order with its lines and what has been received on each."""
    return service.get_purchase_order(db, ctx, order_id)


@router.patch("/purchase-orders/{order_id}", response_model=OrderDetail, tags=[TAG])
def update_purchase_order(order_id: ObjectId, body: OrderUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a draft order's header; 409 once it is confirmed."""
    return service.update_purchase_order(db, ctx, order_id, **body.model_dump(exclude_unset=True))


@router.delete("/purchase-orders/{order_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_purchase_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a draft order; 409 once it is confirmed (cancel it instead)."""
    service.delete_purchase_order(db, ctx, order_id)
    return Response(status_code=NO_CONTENT)


@router.post("/purchase-orders/{order_id}/lines", response_model=OrderLineRead, status_code=CREATED, tags=[TAG])
def add_order_line(order_id: ObjectId, body: OrderLineCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a line to a draft order."""
    return service.add_order_line(db, ctx, order_id, **body.model_dump())


@router.patch("/purchase-orders/{order_id}/lines/{line_id}", response_model=OrderLineRead, tags=[TAG])
def update_order_line(order_id: ObjectId, line_id: ObjectId, body: OrderLineUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a line of a draft order."""
    return service.update_order_line(db, ctx, order_id, line_id, **body.model_dump(exclude_unset=True))


@router.delete("/purchase-orders/{order_id}/lines/{line_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_order_line(order_id: ObjectId, line_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Remove a line from a draft order."""
    service.delete_order_line(db, ctx, order_id, line_id)
    return Response(status_code=NO_CONTENT)


@router.post("/purchase-orders/{order_id}/lines/{line_id}/close", response_model=OrderLineRead, tags=[TAG])
def close_order_line(order_id: ObjectId, line_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Close a line short: it takes no more receipts and counts as done for the order's status."""
    return service.close_order_line(db, ctx, order_id, line_id)


@router.post("/purchase-orders/{order_id}/confirm", response_model=OrderDetail, tags=[TAG])
def confirm_purchase_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Confirm a draft order (it needs at least one line); goods may then be received."""
    return service.confirm_purchase_order(db, ctx, order_id)


@router.post("/purchase-orders/{order_id}/cancel", response_model=OrderDetail, tags=[TAG])
def cancel_purchase_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Cancel a draft or confirmed order; 409 once anything has been received against it."""
    return service.cancel_purchase_order(db, ctx, order_id)


@router.get("/purchase-orders/{order_id}/receipts", response_model=list[ReceiptRead], tags=[TAG])
def list_receipts(order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List an order's receipts with their lines and the stock moves they posted."""
    return service.list_receipts(db, ctx, order_id)


@router.post("/purchase-orders/{order_id}/receipts", response_model=ReceiptRead, status_code=CREATED, tags=[TAG])
def receive_purchase_order(order_id: ObjectId, body: ReceiptCreate, db: DbSession, ctx: Receiver) -> Any:
    """Receive goods: each line posts a stock move from the supplier location into a warehouse location.

    Needs ``purchasing.edit`` and ``inventory.move``. Quantities are in the order line's unit; a
    receipt beyond the line's ordered quantity plus tolerance is refused (422 naming the line).
    """
    specs = [service.ReceiptLineSpec(**line.model_dump()) for line in body.lines]
    return service.receive_purchase_order(db, ctx, order_id, lines=specs, note=body.note)
