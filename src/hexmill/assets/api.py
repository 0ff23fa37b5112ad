"""REST API of the asset hierarchy: CRUD of sites, areas, lines, equipment, types and tags; the tree."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile, status

from hexmill.assets import aas, io, service
from hexmill.assets.filters import (
    AREA_FILTERS,
    EQUIPMENT_FILTERS,
    EQUIPMENT_TYPE_FILTERS,
    LINE_FILTERS,
    SITE_FILTERS,
    TAG_FILTERS,
)
from hexmill.assets.schemas import (
    AreaCreate,
    AreaRead,
    AreaUpdate,
    EquipmentCreate,
    EquipmentRead,
    EquipmentTypeCreate,
    EquipmentTypeRead,
    EquipmentTypeUpdate,
    EquipmentUpdate,
    ImportResult,
    LineCreate,
    LineRead,
    LineUpdate,
    SiteCreate,
    SiteRead,
    SiteUpdate,
    TagCreate,
    TagRead,
    TagUpdate,
    TreeSite,
)
from hexmill.core.context import Context
from hexmill.core.deps import CurrentContext, DbSession
from hexmill.core.pagination import Page, page_of_rows
from hexmill.core.params import Limit, ObjectId, Offset

router = APIRouter()
TAG = "assets"


def viewer(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may see assets (checked before the input, so 403 beats 422)."""
    ctx.require(service.VIEW)
    return ctx


def editor(ctx: CurrentContext) -> Context:
    """Return the caller's context if they may change assets (checked before the input)."""
    ctx.require(service.EDIT)
    return ctx


Viewer = Annotated[Context, Depends(viewer)]
Editor = Annotated[Context, Depends(editor)]


@router.get("/assets/tree", response_model=list[TreeSite], tags=[TAG])
def get_tree(db: DbSession, ctx: Viewer) -> list[TreeSite]:
    """Return the whole hierarchy, site by site: areas, lines and work centres, equipment."""
    return [TreeSite.model_validate(site) for site in service.get_tree(db, ctx)]


# -- sites -------------------------------------------------------------------------------------


@router.get("/sites", response_model=Page[SiteRead], tags=[TAG])
def list_sites(
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(SITE_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[SiteRead]:
    """List the enterprise's sites."""
    rows, total = service.list_sites(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(SiteRead, rows, total, offset, limit)


@router.post("/sites", response_model=SiteRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_site(body: SiteCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a site."""
    return service.create_site(db, ctx, **body.model_dump())


@router.get("/sites/{site_id}", response_model=SiteRead, tags=[TAG])
def get_site(site_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one site."""
    return service.get_site(db, ctx, site_id)


@router.patch("/sites/{site_id}", response_model=SiteRead, tags=[TAG])
def update_site(site_id: ObjectId, body: SiteUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a site's name or description."""
    return service.update_site(db, ctx, site_id, **body.model_dump(exclude_unset=True))


@router.delete("/sites/{site_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_site(site_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a site; refused (409) while it still has areas."""
    service.delete_site(db, ctx, site_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- areas -------------------------------------------------------------------------------------


@router.get("/areas", response_model=Page[AreaRead], tags=[TAG])
def list_areas(
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(AREA_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[AreaRead]:
    """List areas, optionally of one site."""
    rows, total = service.list_areas(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(AreaRead, rows, total, offset, limit)


@router.post("/areas", response_model=AreaRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_area(body: AreaCreate, db: DbSession, ctx: Editor) -> Any:
    """Create an area in a site."""
    return service.create_area(db, ctx, **body.model_dump())


@router.get("/areas/{area_id}", response_model=AreaRead, tags=[TAG])
def get_area(area_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one area."""
    return service.get_area(db, ctx, area_id)


@router.patch("/areas/{area_id}", response_model=AreaRead, tags=[TAG])
def update_area(area_id: ObjectId, body: AreaUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change an area, or move it to another site."""
    return service.update_area(db, ctx, area_id, **body.model_dump(exclude_unset=True))


@router.delete("/areas/{area_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_area(area_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete an area; refused (409) while it still has lines."""
    service.delete_area(db, ctx, area_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- lines -------------------------------------------------------------------------------------


@router.get("/lines", response_model=Page[LineRead], tags=[TAG])
def list_lines(
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(LINE_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[LineRead]:
    """List production lines and work centres, optionally of one area."""
    rows, total = service.list_lines(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(LineRead, rows, total, offset, limit)


@router.post("/lines", response_model=LineRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_line(body: LineCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a production line or a work centre (kind) in an area."""
    return service.create_line(db, ctx, **body.model_dump())


@router.get("/lines/{line_id}", response_model=LineRead, tags=[TAG])
def get_line(line_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one line or work centre."""
    return service.get_line(db, ctx, line_id)


@router.patch("/lines/{line_id}", response_model=LineRead, tags=[TAG])
def update_line(line_id: ObjectId, body: LineUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a line or work centre, or move it to another area."""
    return service.update_line(db, ctx, line_id, **body.model_dump(exclude_unset=True))


@router.delete("/lines/{line_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_line(line_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a line or work centre; refused (409) while equipment stands on it."""
    service.delete_line(db, ctx, line_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- equipment-types ---------------------------------------------------------------------------


@router.get("/equipment-types", response_model=Page[EquipmentTypeRead], tags=[TAG])
def list_equipment_types(
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(EQUIPMENT_TYPE_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[EquipmentTypeRead]:
    """List equipment types."""
    rows, total = service.list_equipment_types(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(EquipmentTypeRead, rows, total, offset, limit)


@router.post("/equipment-types", response_model=EquipmentTypeRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_equipment_type(body: EquipmentTypeCreate, db: DbSession, ctx: Editor) -> Any:
    """Create an equipment type; add its tag templates through /tags."""
    return service.create_equipment_type(db, ctx, **body.model_dump())


@router.get("/equipment-types/{equipment_type_id}", response_model=EquipmentTypeRead, tags=[TAG])
def get_equipment_type(equipment_type_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one equipment type."""
    return service.get_equipment_type(db, ctx, equipment_type_id)


@router.patch("/equipment-types/{equipment_type_id}", response_model=EquipmentTypeRead, tags=[TAG])
def update_equipment_type(equipment_type_id: ObjectId, body: EquipmentTypeUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change an equipment type."""
    return service.update_equipment_type(db, ctx, equipment_type_id, **body.model_dump(exclude_unset=True))


@router.delete("/equipment-types/{equipment_type_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_equipment_type(equipment_type_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete an equipment type and its tag templates; refused (409) while equipment uses it."""
    service.delete_equipment_type(db, ctx, equipment_type_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- equipment ---------------------------------------------------------------------------------


@router.get("/equipment", response_model=Page[EquipmentRead], tags=[TAG])
def list_equipment(
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(EQUIPMENT_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[EquipmentRead]:
    """List equipment, optionally of one line or type."""
    rows, total = service.list_equipment(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(EquipmentRead, rows, total, offset, limit)


@router.post("/equipment", response_model=EquipmentRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_equipment(body: EquipmentCreate, db: DbSession, ctx: Editor) -> Any:
    """Create equipment on a line; from a type, it gets copies of the type's tag templates."""
    return service.create_equipment(db, ctx, **body.model_dump())


@router.get("/equipment/{equipment_id}", response_model=EquipmentRead, tags=[TAG])
def get_equipment(equipment_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one piece of equipment."""
    return service.get_equipment(db, ctx, equipment_id)


@router.patch("/equipment/{equipment_id}", response_model=EquipmentRead, tags=[TAG])
def update_equipment(equipment_id: ObjectId, body: EquipmentUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change equipment, or move it to another line."""
    return service.update_equipment(db, ctx, equipment_id, **body.model_dump(exclude_unset=True))


@router.delete("/equipment/{equipment_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_equipment(equipment_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete equipment and its tags."""
    service.delete_equipment(db, ctx, equipment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- tags --------------------------------------------------------------------------------------


@router.get("/tags", response_model=Page[TagRead], tags=[TAG])
def list_tags(
    db: DbSession,
    ctx: Viewer,
    filters: Annotated[dict[str, Any], Depends(TAG_FILTERS.dependency())],
    offset: Offset = 0,
    limit: Limit = 50,
) -> Page[TagRead]:
    """List tags and tag templates, optionally of one machine or type."""
    rows, total = service.list_tags(db, ctx, filters=filters, offset=offset, limit=limit)
    return page_of_rows(TagRead, rows, total, offset, limit)


@router.post("/tags", response_model=TagRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def create_tag(body: TagCreate, db: DbSession, ctx: Editor) -> Any:
    """Create a tag of a machine (equipment_id) or a tag template of a type (equipment_type_id)."""
    return service.create_tag(db, ctx, **body.model_dump())


@router.get("/tags/{tag_id}", response_model=TagRead, tags=[TAG])
def get_tag(tag_id: ObjectId, db: DbSession, ctx: Viewer) -> Any:
    """Return one tag."""
    return service.get_tag(db, ctx, tag_id)


@router.patch("/tags/{tag_id}", response_model=TagRead, tags=[TAG])
def update_tag(tag_id: ObjectId, body: TagUpdate, db: DbSession, ctx: Editor) -> Any:
    """Change a tag's name, unit, data type or description."""
    return service.update_tag(db, ctx, tag_id, **body.model_dump(exclude_unset=True))


@router.delete("/tags/{tag_id}", status_code=status.HTTP_204_NO_CONTENT, tags=[TAG])
def delete_tag(tag_id: ObjectId, db: DbSession, ctx: Editor) -> Response:
    """Delete a tag."""
    service.delete_tag(db, ctx, tag_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# -- import and export ---------------------------------------------------------------------------

Upload = Annotated[UploadFile, File(description="The file to import.")]
MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "aasx": aas.AASX_MEDIA_TYPE}


def _read_upload(upload: UploadFile, limit: int) -> bytes:
    """Return an upload's bytes, reading at most one byte past ``limit`` (the parsers refuse more)."""
    return upload.file.read(limit + 1)


def _guess(upload: UploadFile, default: str) -> str:
    name = (upload.filename or "").lower()
    kind = (upload.content_type or "").lower()
    if name.endswith(".json") or "json" in kind:
        return "json"
    if name.endswith(".csv") or "csv" in kind:
        return "csv"
    if name.endswith(".aasx") or "asset-administration-shell-package" in kind or "zip" in kind:
        return "aasx"
    return default


@router.post("/assets/import", response_model=ImportResult, tags=[TAG])
def import_assets(
    db: DbSession,
    ctx: Editor,
    file: Upload,
    fmt: Annotated[
        Literal["csv", "json"] | None, Query(alias="format", description="Default: from the file name.")
    ] = None,
) -> ImportResult:
    """Import sites, areas, lines, equipment, types and tags from CSV or JSON.

    The whole file is validated first; a file with any error imports nothing and the answer lists
    every error with its row and column (CSV) or field path (JSON). Objects are matched by their
    names within their parent: existing ones are updated, new ones created, none deleted.
    """
    chosen = fmt or _guess(file, "csv")
    data = _read_upload(file, io.MAX_BYTES)
    parsed = io.read_json(data) if chosen == "json" else io.read_csv(data)
    counts = service.import_records(db, ctx, parsed.records, errors=parsed.errors)
    return ImportResult(created=counts.created, updated=counts.updated)


@router.get(
    "/assets/export",
    tags=[TAG],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}, "description": "The hierarchy as a file."}},
)
def export_assets(
    db: DbSession, ctx: Viewer, fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "json"
) -> Response:
    """Export the whole hierarchy (types and their tags first, then site by site) as CSV or JSON."""
    records = service.export_records(db, ctx)
    body = io.render_csv(records) if fmt == "csv" else io.render_json(records)
    return Response(
        body, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="assets.{fmt}"'}
    )


@router.get(
    "/equipment/{equipment_id}/aas",
    tags=[TAG],
    response_class=Response,
    responses={200: {"content": {"application/json": {}, aas.AASX_MEDIA_TYPE: {}}, "description": "The shell."}},
)
def export_equipment_aas(
    equipment_id: ObjectId,
    db: DbSession,
    ctx: Viewer,
    fmt: Annotated[Literal["json", "aasx"], Query(alias="format")] = "json",
) -> Response:
    """Export one piece of equipment as an Asset Administration Shell (AAS 3.0), as JSON or AASX."""
    body = aas.export_equipment(db, ctx, equipment_id, fmt)
    return Response(
        body,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="equipment-{equipment_id}.{fmt}"'},
    )


@router.post("/equipment/aas", response_model=EquipmentRead, status_code=status.HTTP_201_CREATED, tags=[TAG])
def import_equipment_aas(
    db: DbSession,
    ctx: Editor,
    file: Upload,
    line_id: Annotated[int, Query(ge=1, le=2**31 - 1, description="The line or work centre to put it on.")],
    fmt: Annotated[Literal["json", "aasx"] | None, Query(alias="format", description="Default: from the file.")] = None,
) -> Any:
    """Create equipment from an Asset Administration Shell (JSON or AASX) with its tags."""
    data = _read_upload(file, aas.MAX_BYTES)
    chosen = fmt or ("aasx" if data.startswith(b"PK") else _guess(file, "json"))
    return aas.import_equipment(db, ctx, line_id=line_id, data=data, fmt="aasx" if chosen == "aasx" else "json")
