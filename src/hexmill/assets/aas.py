"""One piece of equipment as an Asset Administration Shell (IDTA AAS 3.0), as JSON or AASX, and back.

The shell carries one submodel, ``Nameplate`` (nameplate-like, not the IDTA Digital Nameplate
template): properties ``EquipmentName``, ``ManufacturerName``, ``ManufacturerProductDesignation``, ``SerialNumber``,
``EquipmentType`` and ``Description``, and a collection ``Tags`` with one property per tag. A
tag's property has the tag's data type as its value type (float → xs:double, integer → xs:long,
boolean → xs:boolean, string → xs:string), the tag's own name as its display name (idShorts
allow fewer characters than tag names), and its unit and description as qualifiers. The
equipment's name is also the shell's display name (cut to the 128 characters AAS allows there).

This module is the only one importing ``basyx``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from basyx.aas import model
from basyx.aas.adapter import aasx
from basyx.aas.adapter.json import read_aas_json_file_into, write_aas_json_file
from pydantic import ValidationError
from sqlalchemy.orm import Session

from hexmill.assets import service
from hexmill.assets.models import Equipment
from hexmill.assets.schemas import EquipmentCreate, TagUpdate
from hexmill.assets.service import TagSpec
from hexmill.core.context import Context
from hexmill.core.errors import FieldError, InvalidInput
from hexmill.core.i18n import N_

Format = Literal["json", "aasx"]
AASX_MEDIA_TYPE: Final = "application/asset-administration-shell-package+xml"
SUBMODEL: Final = "Nameplate"
TAGS: Final = "Tags"
UNIT: Final = "Unit"
DESCRIPTION: Final = "Description"
MAX_BYTES: Final = 20 * 1024 * 1024

_VALUE_TYPES: Final[dict[str, type[Any]]] = {
    "float": model.datatypes.Double,
    "integer": model.datatypes.Long,
    "boolean": model.datatypes.Boolean,
    "string": model.datatypes.String,
}
_DATA_TYPES: Final = {v: k for k, v in _VALUE_TYPES.items()}
_NAMEPLATE: Final = {
    "name": "EquipmentName",
    "manufacturer": "ManufacturerName",
    "model": "ManufacturerProductDesignation",
    "serial_number": "SerialNumber",
    "equipment_type": "EquipmentType",
    "description": "Description",
}
_NOT_ID_SHORT = re.compile(r"[^A-Za-z0-9_]")
# The basyx errors a malformed shell produces, whatever its format.
_BASYX_ERRORS = (model.AASConstraintViolation, KeyError, ValueError, TypeError, AttributeError)


@dataclass(frozen=True, slots=True)
class Shell:
    """What a shell says about one machine: the fields hexmill keeps, and its tags."""

    name: str
    manufacturer: str = ""
    model: str = ""
    serial_number: str = ""
    equipment_type: str = ""
    description: str = ""
    tags: tuple[TagSpec, ...] = ()


def shell_of(equipment: Equipment) -> Shell:
    """Return the shell contents of equipment (its tags and type loaded)."""
    return Shell(
        name=equipment.name,
        manufacturer=equipment.manufacturer,
        model=equipment.model,
        serial_number=equipment.serial_number,
        equipment_type=equipment.equipment_type.name if equipment.equipment_type else "",
        description=equipment.description,
        tags=tuple(TagSpec(t.name, t.unit, t.data_type, t.description) for t in equipment.tags),
    )


def _id_short(name: str, taken: set[str]) -> str:
    """Return an idShort (AASd-002) for ``name``, unique among ``taken``, which it joins."""
    base = _NOT_ID_SHORT.sub("_", name)[:100]
    if not base or not base[0].isalpha():
        base = f"T_{base}"[:100]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def _string(id_short: str, value: str) -> model.Property:
    return model.Property(id_short=id_short, value_type=model.datatypes.String, value=value or None)


def _tag_property(spec: TagSpec, taken: set[str]) -> model.Property:
    qualifiers = []
    if spec.unit:
        qualifiers.append(model.Qualifier(type_=UNIT, value_type=model.datatypes.String, value=spec.unit))
    if spec.description:
        qualifiers.append(model.Qualifier(type_=DESCRIPTION, value_type=model.datatypes.String, value=spec.description))
    return model.Property(
        id_short=_id_short(spec.name, taken),
        value_type=_VALUE_TYPES[spec.data_type],
        display_name=model.MultiLanguageNameType({"en": spec.name}),
        qualifier=qualifiers,
        category="VARIABLE",
    )


def build(shell: Shell, *, identifier: str) -> tuple[model.DictIdentifiableStore[model.Identifiable], str]:
    """Return the store holding the shell and its submodel, and the shell's id."""
    taken: set[str] = set()
    tags = model.SubmodelElementCollection(id_short=TAGS, value=[_tag_property(t, taken) for t in shell.tags])
    elements: list[model.SubmodelElement] = [_string(_NAMEPLATE[key], getattr(shell, key)) for key in _NAMEPLATE]
    submodel = model.Submodel(
        id_=f"{identifier}:submodel:nameplate", id_short=SUBMODEL, submodel_element=[*elements, tags]
    )
    shell_id = f"{identifier}:aas"
    aas = model.AssetAdministrationShell(
        id_=shell_id,
        id_short=_id_short(shell.name, set()),
        display_name=model.MultiLanguageNameType({"en": shell.name[:128]}),
        asset_information=model.AssetInformation(asset_kind=model.AssetKind.INSTANCE, global_asset_id=identifier),
        submodel={model.ModelReference.from_referable(submodel)},
    )
    return model.DictIdentifiableStore([aas, submodel]), shell_id


def to_json(shell: Shell, *, identifier: str) -> bytes:
    """Return the shell as an AAS JSON environment."""
    store, _ = build(shell, identifier=identifier)
    buf = io.StringIO()
    write_aas_json_file(buf, store, indent=2)
    return buf.getvalue().encode("utf-8")


def to_aasx(shell: Shell, *, identifier: str) -> bytes:
    """Return the shell as an AASX package.

    The environment inside is JSON: basyx writes XML in the AAS 3.1 namespace, which readers of
    AAS 3.0 (and the IDTA test engines) refuse, while the JSON form is the same in both.
    """
    store, shell_id = build(shell, identifier=identifier)
    files = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]  # basyx leaves it unannotated
    buf = io.BytesIO()
    with aasx.AASXWriter(buf, failsafe=False) as writer:
        writer.write_aas(aas_ids=[shell_id], object_store=store, file_store=files, write_json=True)
    return buf.getvalue()


def _invalid(detail: str) -> InvalidInput:
    return InvalidInput(detail, field="file", errors=[FieldError(detail, field="file")])


def _read(data: bytes, fmt: Format) -> model.DictIdentifiableStore[model.Identifiable]:
    if len(data) > MAX_BYTES:
        raise _invalid(N_("The file is too large."))
    store: model.DictIdentifiableStore[model.Identifiable] = model.DictIdentifiableStore()
    try:
        if fmt == "json":
            read_aas_json_file_into(store, io.BytesIO(data), failsafe=False)
        else:
            with aasx.AASXReader(io.BytesIO(data), failsafe=False) as reader:
                files = aasx.DictSupplementaryFileContainer()  # type: ignore[no-untyped-call]  # basyx: unannotated
                reader.read_into(store, files)
    except (*_BASYX_ERRORS, RecursionError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise _invalid(N_("The file is not a valid Asset Administration Shell.")) from exc
    return store


def _text(element: model.SubmodelElement | None) -> str:
    if isinstance(element, model.Property) and element.value is not None:
        return str(element.value)
    return ""


def _tag_spec(element: model.SubmodelElement) -> TagSpec:
    if not isinstance(element, model.Property):
        raise _invalid(N_("Every tag must be a property."))
    qualifiers = {q.type: str(q.value) for q in element.qualifier if q.value is not None}
    names: Mapping[str, str] = element.display_name or {}
    return TagSpec(
        name=names.get("en") or next(iter(names.values()), None) or str(element.id_short),
        unit=qualifiers.get(UNIT, ""),
        data_type=_DATA_TYPES.get(element.value_type, "string"),
        description=qualifiers.get(DESCRIPTION, ""),
    )


def parse(data: bytes, fmt: Format) -> Shell:
    """Return what an AAS JSON environment or AASX package says about its one machine."""
    store = _read(data, fmt)
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    if len(shells) != 1:
        raise _invalid(N_("The file must hold exactly one Asset Administration Shell."))
    shell = shells[0]
    submodel = None
    for ref in shell.submodel:
        candidate = store.get(ref.key[-1].value)
        if isinstance(candidate, model.Submodel) and candidate.id_short == SUBMODEL:
            submodel = candidate
    elements: dict[str, model.SubmodelElement] = (
        {str(e.id_short): e for e in submodel.submodel_element} if submodel else {}
    )
    tags = elements.get(TAGS)
    names: Mapping[str, str] = shell.display_name or {}
    fields = {key: _text(elements.get(id_short)) for key, id_short in _NAMEPLATE.items()}
    # Shells from other tools may lack our EquipmentName: fall back on their display name or idShort.
    fields["name"] = fields["name"] or names.get("en") or next(iter(names.values()), None) or str(shell.id_short or "")
    return Shell(
        **fields,
        tags=tuple(_tag_spec(e) for e in tags.value) if isinstance(tags, model.SubmodelElementCollection) else (),
    )


def identifier_of(equipment: Equipment) -> str:
    """Return the global asset id of equipment: stable, and unique on this platform."""
    return f"urn:hexmill:tenant:{equipment.tenant_id}:equipment:{equipment.id}"


def export_equipment(session: Session, ctx: Context, equipment_id: int, fmt: Format) -> bytes:
    """Return one machine of the enterprise as an AAS file in ``fmt``."""
    equipment = service.get_equipment_with_tags(session, ctx, equipment_id)
    shell = shell_of(equipment)
    identifier = identifier_of(equipment)
    return to_json(shell, identifier=identifier) if fmt == "json" else to_aasx(shell, identifier=identifier)


def import_equipment(session: Session, ctx: Context, *, line_id: int, data: bytes, fmt: Format) -> Equipment:
    """Create a machine on a line from an AAS file; its type is linked if the enterprise has one of that name."""
    ctx.require(service.EDIT)
    shell = parse(data, fmt)
    checked = _validate(shell)
    type_id = None
    if checked.equipment_type:
        found, _ = service.list_equipment_types(session, ctx, filters={"name": checked.equipment_type}, limit=500)
        type_id = next((t.id for t in found if t.name == checked.equipment_type), None)
    return service.create_equipment(
        session,
        ctx,
        line_id=line_id,
        name=checked.name,
        equipment_type_id=type_id,
        manufacturer=checked.manufacturer,
        model=checked.model,
        serial_number=checked.serial_number,
        description=checked.description,
        tags=list(checked.tags),
    )


def _validate(shell: Shell) -> Shell:
    """Check the shell's contents against the API's own rules, so an import is no back door."""
    try:
        body = EquipmentCreate(
            line_id=1, name=shell.name, manufacturer=shell.manufacturer, model=shell.model,
            serial_number=shell.serial_number, description=shell.description,
        )  # fmt: skip
        tags = tuple(
            TagSpec(
                **TagUpdate(name=t.name, unit=t.unit, data_type=t.data_type, description=t.description).model_dump()
            )
            for t in shell.tags
        )
    except ValidationError as exc:
        errors = [FieldError(N_("Not valid."), field=".".join(str(p) for p in err["loc"])) for err in exc.errors()]
        raise InvalidInput(N_("The shell holds values this server does not accept."), errors=errors) from None
    return Shell(
        name=body.name, manufacturer=body.manufacturer or "", model=body.model or "",
        serial_number=body.serial_number, equipment_type=shell.equipment_type.strip()[:200],
        description=body.description, tags=tags,
    )  # fmt: skip
