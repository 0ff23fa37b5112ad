"""Console pages of the device registry: the device list, provisioning, a device's page and its field map."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from hexmill.assets import service as assets
from hexmill.connect.http.api import forget_device
from hexmill.connect.registry import service
from hexmill.connect.registry.filters import DEVICE_FILTERS
from hexmill.connect.registry.models import LINK_STATES, PROTOCOLS
from hexmill.connect.registry.schemas import DeviceCreate, FieldMapUpdate
from hexmill.core.context import Context
from hexmill.core.deps import DbSession
from hexmill.core.errors import HexmillError, InvalidInput
from hexmill.core.i18n import N_, gettext
from hexmill.core.pagination import MAX_LIMIT
from hexmill.core.params import MAX_ID
from hexmill.web.auth import Console, ConsoleRoute, Form
from hexmill.web.forms import FormErrors, FormInvalid, attempt, domain_errors, validate, values
from hexmill.web.templating import flash, redirect, render

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
RECENT_DEAD_LETTERS = 20
BLANK_MAPPING_ROWS = 3

PROTOCOL_LABELS = {
    "mqtt": N_("MQTT (JSON)"),
    "sparkplug": N_("MQTT Sparkplug B"),
    "opcua": N_("OPC UA"),
    "modbus": N_("Modbus TCP"),
    "http": N_("HTTP"),
}
LINK_LABELS = {
    "unknown": N_("Not seen yet"),
    "connecting": N_("Connecting"),
    "online": N_("Online"),
    "unavailable": N_("Unavailable"),
    "offline": N_("Offline"),
}
FORM_FIELDS = ("name", "equipment_id", "protocol", "description", "config")


def _id(raw: int) -> int:
    return min(max(raw, 0), MAX_ID)


def _equipment_options(db: Session, ctx: Context) -> list[tuple[str, str]]:
    rows, _ = assets.list_equipment(db, ctx, limit=MAX_LIMIT)
    return [(str(e.id), e.name) for e in rows]


def _equipment_names(db: Session, ctx: Context) -> dict[int, str]:
    rows, _ = assets.list_equipment(db, ctx, limit=MAX_LIMIT)
    return {e.id: e.name for e in rows}


def _protocol_options() -> list[tuple[str, str]]:
    return [(p, gettext(PROTOCOL_LABELS[p])) for p in PROTOCOLS]


# -- the list ----------------------------------------------------------------------------------


@router.get("/devices")
def device_list(request: Request, db: DbSession, page: Console) -> Response:
    """List devices with their connection state, counters and last contact; filter as the API does."""
    page.ctx.require_tenant()
    query = request.query_params
    raw_offset = query.get("offset", "0")
    offset = min(int(raw_offset), MAX_ID) if raw_offset.isdigit() else 0
    errors = FormErrors()
    try:
        filters = DEVICE_FILTERS.parse(query)
    except InvalidInput as exc:
        errors = domain_errors(exc)
        filters = {}
    rows, total = service.list_devices(db, page.ctx, filters=filters, offset=offset, limit=PAGE_SIZE)
    kept = {f.name: query[f.name] for f in DEVICE_FILTERS.filters if query.get(f.name)}

    def page_url(start: int) -> str:
        return "/devices?" + urlencode({**kept, "offset": start})

    return render(
        request,
        "devices/list.html",
        status_code=422 if errors else 200,
        rows=rows,
        total=total,
        offset=offset,
        limit=PAGE_SIZE,
        values=kept,
        errors=errors,
        equipment=_equipment_names(db, page.ctx),
        protocol_options=_protocol_options(),
        link_options=[(s, gettext(LINK_LABELS[s])) for s in LINK_STATES],
        protocol_labels=PROTOCOL_LABELS,
        link_labels=LINK_LABELS,
        can_manage=page.ctx.can(service.MANAGE),
        prev_url=page_url(max(offset - PAGE_SIZE, 0)) if offset > 0 else None,
        next_url=page_url(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
    )


# -- provisioning ------------------------------------------------------------------------------


def _new_page(
    request: Request, db: Session, page: Console, form: dict[str, Any], errors: FormErrors | None = None
) -> Response:
    return render(
        request,
        "devices/new.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors or FormErrors(),
        equipment_options=_equipment_options(db, page.ctx),
        protocol_options=_protocol_options(),
    )


@router.get("/devices/new")
def new_device(request: Request, db: DbSession, page: Console, equipment_id: str = "") -> Response:
    """Show the provisioning form: name, equipment, protocol and its settings."""
    page.ctx.require(service.MANAGE)
    return _new_page(request, db, page, {"protocol": "http", "equipment_id": equipment_id, "config": "{}"})


def _config(raw: Any) -> dict[str, Any]:
    text = str(raw or "").strip() or "{}"
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise FormInvalid(FormErrors(fields={"config": gettext(N_("Write the settings as a JSON object, e.g. {}."))}))
    return parsed


@router.post("/devices/new")
def create_device(request: Request, db: DbSession, page: Console, form: Form) -> Response:
    """Provision a device and show its secret and token, this once."""
    data = values(form, FORM_FIELDS)
    data["auto_tags"] = form.get("auto_tags") == "on"
    try:
        body = validate(DeviceCreate, {**data, "config": _config(data.get("config"))})
        device, secret = attempt(db, lambda: service.create_device(db, page.ctx, **body.model_dump()))
    except FormInvalid as exc:
        return _new_page(request, db, page, {**data, "config": data.get("config", "")}, exc.errors)
    return _shown_once(_detail_page(request, db, page, device.id, secret=secret, status_code=201), device.id)


def _shown_once(response: Response, device_id: int) -> Response:
    """Point the browser's address at the device page, so a reload shows it without the secret."""
    response.headers["HX-Push-Url"] = f"/devices/{device_id}"
    return response


# -- one device --------------------------------------------------------------------------------


def _detail_page(
    request: Request,
    db: Session,
    page: Console,
    device_id: int,
    *,
    secret: str = "",
    errors: FormErrors | None = None,
    mapping: list[tuple[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    device = service.get_device(db, page.ctx, device_id)
    equipment = assets.get_equipment(db, page.ctx, device.equipment_id)
    tags, _ = assets.list_tags(db, page.ctx, filters={"equipment_id": equipment.id}, limit=MAX_LIMIT)
    if mapping is None:
        mapping = [(row.field, str(row.tag_id)) for row in service.list_device_fields(db, page.ctx, device.id)]
    letters, letter_total = service.list_dead_letters(
        db, page.ctx, filters={"device_id": device.id}, limit=RECENT_DEAD_LETTERS
    )
    return render(
        request,
        "devices/detail.html",
        status_code=422 if errors else status_code,
        device=device,
        equipment=equipment,
        tags=tags,
        mapping=[*mapping, *[("", "")] * BLANK_MAPPING_ROWS],
        letters=letters,
        letter_total=letter_total,
        secret=secret,
        token=f"{device.client_id}:{secret}" if secret else "",
        errors=errors or FormErrors(),
        protocol_labels=PROTOCOL_LABELS,
        link_labels=LINK_LABELS,
        can_manage=page.ctx.can(service.MANAGE),
    )


@router.get("/devices/{device_id}")
def device_detail(request: Request, device_id: int, db: DbSession, page: Console) -> Response:
    """Show a device: state, counters, its field map, rotate and revoke, recent refused records."""
    return _detail_page(request, db, page, _id(device_id))


@router.post("/devices/{device_id}/fields")
def save_fields(request: Request, *, device_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Replace the device's field → tag mappings; blank rows are dropped, errors shown above the table."""
    device = service.get_device(db, page.ctx, _id(device_id))
    pairs = list(zip(form.getlist("field"), form.getlist("tag_id"), strict=False))
    rows = [(str(f).strip(), str(t)) for f, t in pairs if str(f).strip() or str(t)]
    try:
        body = validate(FieldMapUpdate, {"fields": [{"field": f, "tag_id": t} for f, t in rows]})
        mapping = {item.field: item.tag_id for item in body.fields}
        if len(mapping) != len(body.fields):
            raise FormInvalid(FormErrors(summary=gettext(N_("A field is mapped twice."))))
        attempt(db, lambda: service.set_device_fields(db, page.ctx, device.id, mapping))
    except FormInvalid as exc:
        errors = exc.errors
        if not errors.summary:
            errors.summary = gettext(N_("The field mapping has errors."))
        return _detail_page(request, db, page, device.id, errors=errors, mapping=rows)
    forget_device(request.app, device.id, None)
    return flash(request, redirect(f"/devices/{device.id}"), N_("Field mapping saved."))


def _confirm(request: Request, action: str, question: str, back: str, **params: Any) -> Response:
    return render(request, "confirm.html", question=question, params=params, action=action, back=back)


@router.post("/devices/{device_id}/rotate")
def rotate_secret(request: Request, *, device_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Give the device a new secret after confirmation, and show it this once."""
    device = service.get_device(db, page.ctx, _id(device_id))
    url = f"/devices/{device.id}"
    if form.get("confirm") != "yes":
        return _confirm(
            request,
            f"{url}/rotate",
            N_("Give %(name)s a new secret? The old one stops working."),
            url,
            name=device.name,
        )
    try:
        _device, secret = service.rotate_device_secret(db, page.ctx, device.id)
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(url), exc.detail, "error", **exc.params)
    forget_device(request.app, device.id, device.client_id)
    return _shown_once(_detail_page(request, db, page, device.id, secret=secret), device.id)


@router.post("/devices/{device_id}/revoke")
def revoke(request: Request, *, device_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Revoke the device's credentials after confirmation."""
    device = service.get_device(db, page.ctx, _id(device_id))
    url = f"/devices/{device.id}"
    if form.get("confirm") != "yes":
        return _confirm(request, f"{url}/revoke", N_("Revoke the credentials of %(name)s?"), url, name=device.name)
    try:
        service.revoke_device(db, page.ctx, device.id)
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(url), exc.detail, "error", **exc.params)
    forget_device(request.app, device.id, device.client_id)
    return flash(request, redirect(url), N_("The credentials of %(name)s are revoked."), name=device.name)


@router.post("/devices/{device_id}/delete")
def delete(request: Request, *, device_id: int, db: DbSession, page: Console, form: Form) -> Response:
    """Delete the device after confirmation; its data stays with the equipment."""
    device = service.get_device(db, page.ctx, _id(device_id))
    name, client_id = device.name, device.client_id
    if form.get("confirm") != "yes":
        return _confirm(
            request, f"/devices/{device.id}/delete", N_("Delete %(name)s?"), f"/devices/{device.id}", name=name
        )
    try:
        service.delete_device(db, page.ctx, device.id)
    except HexmillError as exc:
        db.rollback()
        return flash(request, redirect(f"/devices/{device.id}"), exc.detail, "error", **exc.params)
    forget_device(request.app, device.id, client_id)
    return flash(request, redirect("/devices"), N_("%(name)s deleted."), name=name)
