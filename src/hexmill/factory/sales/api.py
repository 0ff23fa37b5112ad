"""REST API of sales under /factory: quotations, sales orders, deliveries (pick, ship) and returns.

Every list has a CSV twin (``/factory/quotations.csv``, ``/factory/sales-orders.csv``,
``/factory/deliveries.csv``) taking the same filters, through the same filter sets as the console.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.export import csv_download
from hexmill.core.pagination import MAX_LIMIT, Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset
from hexmill.factory.sales import service
from hexmill.factory.sales.filters import DELIVERY_FILTERS, ORDER_FILTERS, QUOTATION_FILTERS
from hexmill.factory.sales.schemas import (
    DeliveryCreate,
    DeliveryRead,
    OrderCreate,
    OrderDetail,
    OrderLineCreate,
    OrderLineRead,
    OrderLineUpdate,
    OrderRead,
    OrderUpdate,
    QuotationConvert,
    QuotationCreate,
    QuotationDetail,
    QuotationLineCreate,
    QuotationLineRead,
    QuotationLineUpdate,
    QuotationRead,
    QuotationUpdate,
    ReturnCreate,
    ReturnRead,
)

router = APIRouter(prefix="/factory")
TAG = "sales"
NO_CONTENT = status.HTTP_204_NO_CONTENT
CREATED = status.HTTP_201_CREATED
ORDER_CSV = (
    "id",
    "number",
    "customer_id",
    "order_date",
    "customer_reference",
    "quotation_id",
    "status",
    "created_at",
    "confirmed_at",
)
QUOTATION_CSV = ("id", "number", "customer_id", "quote_date", "valid_until", "status", "created_at", "sent_at")
DELIVERY_CSV = ("id", "order_id", "status", "username", "created_at", "picked_at", "shipped_at")


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see sales (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change quotations, orders and deliveries."""
    ctx.require(service.EDIT)
    return ctx


def mover(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may pick, ship and take back goods: change sales and move stock."""
    ctx.require(service.EDIT)
    ctx.require(service.MOVE)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]
Mover = Annotated[Context, Depends(mover)]
OrderFilters = Annotated[dict[str, Any], Depends(ORDER_FILTERS.dependency())]
QuotationFilters = Annotated[dict[str, Any], Depends(QUOTATION_FILTERS.dependency())]
DeliveryFilters = Annotated[dict[str, Any], Depends(DELIVERY_FILTERS.dependency())]


# ---------------------------------------------------------------------------------------------
# Quotations
# ---------------------------------------------------------------------------------------------


@router.get("/quotations", response_model=Page[QuotationRead], tags=[TAG])
def list_quotations(
    db: DbSession, ctx: Viewer, filters: QuotationFilters, offset: Offset = 0, limit: Limit = 50
) -> Any:
    """List quotations, newest first, filtered by number, customer and status."""
    rows, total = service.list_quotations(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(QuotationRead, rows, total, offset, limit)


@router.get("/quotations.csv", tags=[TAG], response_class=Response)
def export_quotations(db: DbSession, ctx: Viewer, filters: QuotationFilters) -> Response:
    """Export every quotation matching the filters as CSV."""
    return csv_download(
        "quotations",
        QUOTATION_CSV,
        lambda o: service.list_quotations(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/quotations", response_model=QuotationDetail, status_code=CREATED, tags=[TAG])
def create_quotation(body: QuotationCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a draft quotation with its lines; errors on a line name it ("lines.2.options")."""
    return service.create_quotation(db, ctx, **body.model_dump())


@router.get("/quotations/{quotation_id}", response_model=QuotationDetail, tags=[TAG])
def get_quotation(quotation_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one quotation with its lines."""
    return service.get_quotation(db, ctx, quotation_id)


@router.patch("/quotations/{quotation_id}", response_model=QuotationDetail, tags=[TAG])
def update_quotation(quotation_id: ObjectId, body: QuotationUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a draft quotation's header; 409 once it is sent."""
    return service.update_quotation(db, ctx, quotation_id, **body.model_dump(exclude_unset=True))


@router.delete("/quotations/{quotation_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_quotation(quotation_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a draft quotation; 409 once it is sent."""
    service.delete_quotation(db, ctx, quotation_id)
    return Response(status_code=NO_CONTENT)


@router.post("/quotations/{quotation_id}/lines", response_model=QuotationLineRead, status_code=CREATED, tags=[TAG])
def add_quotation_line(quotation_id: ObjectId, body: QuotationLineCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a line to a draft quotation."""
    return service.add_quotation_line(db, ctx, quotation_id, **body.model_dump())


@router.patch("/quotations/{quotation_id}/lines/{line_id}", response_model=QuotationLineRead, tags=[TAG])
def update_quotation_line(
    quotation_id: ObjectId, line_id: ObjectId, body: QuotationLineUpdate, db: DbSession, ctx: Editor
) -> Any:
    """Change a line of a draft quotation."""
    return service.update_quotation_line(db, ctx, quotation_id, line_id, **body.model_dump(exclude_unset=True))


@router.delete("/quotations/{quotation_id}/lines/{line_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_quotation_line(quotation_id: ObjectId, line_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Remove a line from a draft quotation."""
    service.delete_quotation_line(db, ctx, quotation_id, line_id)
    return Response(status_code=NO_CONTENT)


@router.post("/quotations/{quotation_id}/send", response_model=QuotationDetail, tags=[TAG])
def send_quotation(quotation_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Mark a draft quotation (with at least one line) as sent to the customer."""
    return service.send_quotation(db, ctx, quotation_id)


@router.post("/quotations/{quotation_id}/accept", response_model=QuotationDetail, tags=[TAG])
def accept_quotation(quotation_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Record the customer's acceptance of a sent quotation; 409 once it is past its validity."""
    return service.accept_quotation(db, ctx, quotation_id)


@router.post("/quotations/{quotation_id}/reject", response_model=QuotationDetail, tags=[TAG])
def reject_quotation(quotation_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Record the customer's rejection of a sent quotation."""
    return service.reject_quotation(db, ctx, quotation_id)


@router.post("/quotations/{quotation_id}/expire", response_model=QuotationDetail, tags=[TAG])
def expire_quotation(quotation_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Mark a sent quotation expired: the customer did not answer in time."""
    return service.expire_quotation(db, ctx, quotation_id)


@router.post("/quotations/{quotation_id}/convert", response_model=OrderDetail, status_code=CREATED, tags=[TAG])
def convert_quotation(quotation_id: ObjectId, body: QuotationConvert, db: DbSession, ctx: Editor) -> Any:
    """Turn an accepted quotation into a draft sales order with the same lines; 409 if already converted."""
    return service.convert_quotation(db, ctx, quotation_id, **body.model_dump())


# ---------------------------------------------------------------------------------------------
# Sales orders
# ---------------------------------------------------------------------------------------------


@router.get("/sales-orders", response_model=Page[OrderRead], tags=[TAG])
def list_sales_orders(db: DbSession, ctx: Viewer, filters: OrderFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List sales orders, newest first, filtered by number, customer, customer reference and status."""
    rows, total = service.list_sales_orders(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(OrderRead, rows, total, offset, limit)


@router.get("/sales-orders.csv", tags=[TAG], response_class=Response)
def export_sales_orders(db: DbSession, ctx: Viewer, filters: OrderFilters) -> Response:
    """Export every sales order matching the filters as CSV."""
    return csv_download(
        "sales-orders",
        ORDER_CSV,
        lambda o: service.list_sales_orders(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.post("/sales-orders", response_model=OrderDetail, status_code=CREATED, tags=[TAG])
def create_sales_order(body: OrderCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a draft sales order with its lines; errors on a line name it ("lines.2.quantity")."""
    return service.create_sales_order(db, ctx, **body.model_dump())


@router.get("/sales-orders/{order_id}", response_model=OrderDetail, tags=[TAG])
def get_sales_order(order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one sales order with its lines and what has been delivered and returned on each."""
    return service.get_sales_order(db, ctx, order_id)


@router.patch("/sales-orders/{order_id}", response_model=OrderDetail, tags=[TAG])
def update_sales_order(order_id: ObjectId, body: OrderUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a draft order's header; 409 once it is confirmed."""
    return service.update_sales_order(db, ctx, order_id, **body.model_dump(exclude_unset=True))


@router.delete("/sales-orders/{order_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_sales_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a draft order; 409 once it is confirmed (cancel it instead)."""
    service.delete_sales_order(db, ctx, order_id)
    return Response(status_code=NO_CONTENT)


@router.post("/sales-orders/{order_id}/lines", response_model=OrderLineRead, status_code=CREATED, tags=[TAG])
def add_order_line(order_id: ObjectId, body: OrderLineCreate, db: DbSession, ctx: Editor) -> Any:
    """Add a line to a draft order."""
    return service.add_order_line(db, ctx, order_id, **body.model_dump())


@router.patch("/sales-orders/{order_id}/lines/{line_id}", response_model=OrderLineRead, tags=[TAG])
def update_order_line(order_id: ObjectId, line_id: ObjectId, body: OrderLineUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a line of a draft order."""
    return service.update_order_line(db, ctx, order_id, line_id, **body.model_dump(exclude_unset=True))


@router.delete("/sales-orders/{order_id}/lines/{line_id}", status_code=NO_CONTENT, tags=[TAG])
def delete_order_line(order_id: ObjectId, line_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Remove a line from a draft order."""
    service.delete_order_line(db, ctx, order_id, line_id)
    return Response(status_code=NO_CONTENT)


@router.post("/sales-orders/{order_id}/confirm", response_model=OrderDetail, tags=[TAG])
def confirm_sales_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Confirm a draft order (it needs at least one line); goods may then be delivered."""
    return service.confirm_sales_order(db, ctx, order_id)


@router.post("/sales-orders/{order_id}/cancel", response_model=OrderDetail, tags=[TAG])
def cancel_sales_order(order_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Cancel a draft or confirmed order (and its unshipped deliveries); 409 once anything has shipped."""
    return service.cancel_sales_order(db, ctx, order_id)


@router.get("/sales-orders/{order_id}/deliveries", response_model=list[DeliveryRead], tags=[TAG])
def list_order_deliveries(order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List an order's deliveries with their lines, oldest first."""
    order = service.get_sales_order(db, ctx, order_id)
    rows, _ = service.list_deliveries(db, ctx, filters={"order_id": order.id}, limit=MAX_LIMIT)
    return list(reversed(rows))


@router.post("/sales-orders/{order_id}/deliveries", response_model=DeliveryRead, status_code=CREATED, tags=[TAG])
def create_delivery(order_id: ObjectId, body: DeliveryCreate, db: DbSession, ctx: Editor) -> Any:
    """Plan a delivery against a confirmed order; more than a line still has open is refused naming the line.

    Quantities are in the item's base unit; tracked items name their lot.
    """
    specs = [service.DeliveryLineSpec(**line.model_dump()) for line in body.lines]
    return service.create_delivery(db, ctx, order_id, lines=specs, note=body.note)


@router.get("/sales-orders/{order_id}/returns", response_model=list[ReturnRead], tags=[TAG])
def list_returns(order_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """List an order's returns with their lines and the stock moves they posted."""
    return service.list_returns(db, ctx, order_id)


@router.post("/sales-orders/{order_id}/returns", response_model=ReturnRead, status_code=CREATED, tags=[TAG])
def create_return(order_id: ObjectId, body: ReturnCreate, db: DbSession, ctx: Mover) -> Any:
    """Take goods back: each line posts a stock move from the customer location into a location.

    Needs ``sales.edit`` and ``inventory.move``. At most what was shipped and not yet returned; into a
    warehouse location or the scrap location.
    """
    specs = [service.ReturnLineSpec(**line.model_dump()) for line in body.lines]
    return service.create_return(db, ctx, order_id, lines=specs, reason=body.reason, note=body.note)


# ---------------------------------------------------------------------------------------------
# Deliveries
# ---------------------------------------------------------------------------------------------


@router.get("/deliveries", response_model=Page[DeliveryRead], tags=[TAG])
def list_deliveries(db: DbSession, ctx: Viewer, filters: DeliveryFilters, offset: Offset = 0, limit: Limit = 50) -> Any:
    """List deliveries, newest first, filtered by order and status."""
    rows, total = service.list_deliveries(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(DeliveryRead, rows, total, offset, limit)


@router.get("/deliveries.csv", tags=[TAG], response_class=Response)
def export_deliveries(db: DbSession, ctx: Viewer, filters: DeliveryFilters) -> Response:
    """Export every delivery matching the filters as CSV."""
    return csv_download(
        "deliveries",
        DELIVERY_CSV,
        lambda o: service.list_deliveries(db, ctx, filters=filters, offset=o, limit=MAX_LIMIT),
    )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryRead, tags=[TAG])
def get_delivery(delivery_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one delivery with its lines, reservations and moves."""
    return service.get_delivery(db, ctx, delivery_id)


@router.post("/deliveries/{delivery_id}/pick", response_model=DeliveryRead, tags=[TAG])
def pick_delivery(delivery_id: ObjectId, db: DbSession, ctx: Mover) -> Any:
    """Pick a draft delivery: reserve each line's stock for the order (needs ``inventory.move``)."""
    return service.pick_delivery(db, ctx, delivery_id)


@router.post("/deliveries/{delivery_id}/ship", response_model=DeliveryRead, tags=[TAG])
def ship_delivery(delivery_id: ObjectId, db: DbSession, ctx: Mover) -> Any:
    """Ship a delivery: one stock move per line to the customer location (needs ``inventory.move``)."""
    return service.ship_delivery(db, ctx, delivery_id)


@router.post("/deliveries/{delivery_id}/cancel", response_model=DeliveryRead, tags=[TAG])
def cancel_delivery(delivery_id: ObjectId, db: DbSession, ctx: Editor) -> Any:
    """Cancel a delivery not yet shipped, releasing the stock it reserved; 409 once shipped."""
    return service.cancel_delivery(db, ctx, delivery_id)
