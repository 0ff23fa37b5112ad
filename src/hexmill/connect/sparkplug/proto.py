"""The Sparkplug B protobuf message classes, built at run time from the specification's schema."""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

#: The protobuf package of the specification's ``sparkplug_b.proto``.
PACKAGE = "org.eclipse.tahu.protobuf"

# Protobuf's "max" for extension ranges: field numbers end at 2**29 - 1, and range ends are exclusive.
_EXTENSIONS_END = 2**29

_F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "bool": _F.TYPE_BOOL,
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
    "float": _F.TYPE_FLOAT,
    "double": _F.TYPE_DOUBLE,
}

#: DataType enum of the specification, in number order (``Unknown`` is 0).
DATATYPE_NAMES = (
    "Unknown",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Float",
    "Double",
    "Boolean",
    "String",
    "DateTime",
    "Text",
    "UUID",
    "DataSet",
    "Bytes",
    "File",
    "Template",
    "PropertySet",
    "PropertySetList",
    "Int8Array",
    "Int16Array",
    "Int32Array",
    "Int64Array",
    "UInt8Array",
    "UInt16Array",
    "UInt32Array",
    "UInt64Array",
    "FloatArray",
    "DoubleArray",
    "BooleanArray",
    "StringArray",
    "DateTimeArray",
)

# Each message: (name, fields, nested messages, first extension number or None). A field is
# (label, type, name, number) with label "optional", "repeated" or "oneof:<name>"; a type that is
# not a scalar names a message, resolved from the innermost scope outwards as protoc does.
_Message = tuple[str, list[tuple[str, str, str, int]], list[Any], int | None]


def _value_oneof(first: int, kinds: list[tuple[str, str]]) -> list[tuple[str, str, str, int]]:
    return [("oneof:value", type_, name, first + i) for i, (type_, name) in enumerate(kinds)]


_SCALAR_VALUES = [
    ("uint32", "int_value"),
    ("uint64", "long_value"),
    ("float", "float_value"),
    ("double", "double_value"),
    ("bool", "boolean_value"),
    ("string", "string_value"),
]


def _extension(name: str) -> _Message:
    return (name, [], [], 1)


_PAYLOAD: _Message = (
    "Payload",
    [
        ("optional", "uint64", "timestamp", 1),
        ("repeated", "Metric", "metrics", 2),
        ("optional", "uint64", "seq", 3),
        ("optional", "string", "uuid", 4),
        ("optional", "bytes", "body", 5),
    ],
    [
        (
            "Template",
            [
                ("optional", "string", "version", 1),
                ("repeated", "Metric", "metrics", 2),
                ("repeated", "Parameter", "parameters", 3),
                ("optional", "string", "template_ref", 4),
                ("optional", "bool", "is_definition", 5),
            ],
            [
                (
                    "Parameter",
                    [
                        ("optional", "string", "name", 1),
                        ("optional", "uint32", "type", 2),
                        *_value_oneof(3, [*_SCALAR_VALUES, ("ParameterValueExtension", "extension_value")]),
                    ],
                    [_extension("ParameterValueExtension")],
                    None,
                )
            ],
            6,
        ),
        (
            "DataSet",
            [
                ("optional", "uint64", "num_of_columns", 1),
                ("repeated", "string", "columns", 2),
                ("repeated", "uint32", "types", 3),
                ("repeated", "Row", "rows", 4),
            ],
            [
                (
                    "DataSetValue",
                    _value_oneof(1, [*_SCALAR_VALUES, ("DataSetValueExtension", "extension_value")]),
                    [_extension("DataSetValueExtension")],
                    None,
                ),
                ("Row", [("repeated", "DataSetValue", "elements", 1)], [], 2),
            ],
            5,
        ),
        (
            "PropertyValue",
            [
                ("optional", "uint32", "type", 1),
                ("optional", "bool", "is_null", 2),
                *_value_oneof(
                    3,
                    [
                        *_SCALAR_VALUES,
                        ("PropertySet", "propertyset_value"),
                        ("PropertySetList", "propertysets_value"),
                        ("PropertyValueExtension", "extension_value"),
                    ],
                ),
            ],
            [_extension("PropertyValueExtension")],
            None,
        ),
        (
            "PropertySet",
            [("repeated", "string", "keys", 1), ("repeated", "PropertyValue", "values", 2)],
            [],
            3,
        ),
        ("PropertySetList", [("repeated", "PropertySet", "propertyset", 1)], [], 2),
        (
            "MetaData",
            [
                ("optional", "bool", "is_multi_part", 1),
                ("optional", "string", "content_type", 2),
                ("optional", "uint64", "size", 3),
                ("optional", "uint64", "seq", 4),
                ("optional", "string", "file_name", 5),
                ("optional", "string", "file_type", 6),
                ("optional", "string", "md5", 7),
                ("optional", "string", "description", 8),
            ],
            [],
            9,
        ),
        (
            "Metric",
            [
                ("optional", "string", "name", 1),
                ("optional", "uint64", "alias", 2),
                ("optional", "uint64", "timestamp", 3),
                ("optional", "uint32", "datatype", 4),
                ("optional", "bool", "is_historical", 5),
                ("optional", "bool", "is_transient", 6),
                ("optional", "bool", "is_null", 7),
                ("optional", "MetaData", "metadata", 8),
                ("optional", "PropertySet", "properties", 9),
                *_value_oneof(
                    10,
                    [
                        *_SCALAR_VALUES,
                        ("bytes", "bytes_value"),
                        ("DataSet", "dataset_value"),
                        ("Template", "template_value"),
                        ("MetricValueExtension", "extension_value"),
                    ],
                ),
            ],
            [_extension("MetricValueExtension")],
            None,
        ),
    ],
    6,
)


def _names(message: _Message, scope: str, out: dict[str, str]) -> None:
    """Record the full name of ``message`` and of everything nested in it."""
    full = f"{scope}.{message[0]}"
    out[full] = full
    for nested in message[2]:
        _names(nested, full, out)


def _resolve(type_name: str, scope: str, known: dict[str, str]) -> str:
    """Return the full name a type reference means inside ``scope`` (innermost scope first)."""
    parts = scope.split(".")
    while parts:
        candidate = ".".join([*parts, type_name])
        if candidate in known:
            return "." + candidate
        parts.pop()
    raise LookupError(f"unknown message type {type_name} in {scope}")


def _build(message: _Message, scope: str, known: dict[str, str], out: descriptor_pb2.DescriptorProto) -> None:
    name, fields, nested, extensions_from = message
    full = f"{scope}.{name}"
    out.name = name
    oneofs: list[str] = []
    for label, type_, field_name, number in fields:
        field = out.field.add(name=field_name, number=number)
        field.label = _F.LABEL_REPEATED if label == "repeated" else _F.LABEL_OPTIONAL
        if type_ in _SCALARS:
            field.type = _SCALARS[type_]
        else:
            field.type = _F.TYPE_MESSAGE
            field.type_name = _resolve(type_, full, known)
        if label.startswith("oneof:"):
            oneof = label.removeprefix("oneof:")
            if oneof not in oneofs:
                oneofs.append(oneof)
                out.oneof_decl.add(name=oneof)
            field.oneof_index = oneofs.index(oneof)
    for child in nested:
        _build(child, full, known, out.nested_type.add())
    if extensions_from is not None:
        out.extension_range.add(start=extensions_from, end=_EXTENSIONS_END)


def file_descriptor() -> descriptor_pb2.FileDescriptorProto:
    """Return the schema of ``sparkplug_b.proto`` as a protobuf file descriptor."""
    proto = descriptor_pb2.FileDescriptorProto(name="hexmill/sparkplug_b.proto", package=PACKAGE, syntax="proto2")
    enum = proto.enum_type.add(name="DataType")
    for number, name in enumerate(DATATYPE_NAMES):
        enum.value.add(name=name, number=number)
    known: dict[str, str] = {}
    _names(_PAYLOAD, PACKAGE, known)
    _build(_PAYLOAD, PACKAGE, known, proto.message_type.add())
    return proto


@functools.cache
def payload_class() -> Any:
    """Return the ``Payload`` message class (built once, in a private pool, on first use).

    A private descriptor pool keeps these classes apart from any other Sparkplug library loaded in
    the same process, which registers the same full names in the default pool.
    """
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file_descriptor())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.Payload"))
