"""Validate a parsed boto3 response against botocore's output shape: required members, types, enums, ranges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.response import StreamingBody

SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "double": (int, float),
    "float": (int, float),
    "boolean": (bool,),
    "timestamp": (datetime,),
    "blob": (bytes, bytearray, StreamingBody),
}


def violations(shape: Any, value: Any, path: str = "$") -> list[str]:
    """Every way ``value`` breaks ``shape`` (empty when it conforms)."""
    if shape.type_name == "structure":
        return _structure(shape, value, path)
    if shape.type_name == "list":
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        return [e for i, item in enumerate(value) for e in violations(shape.member, item, f"{path}[{i}]")]
    if shape.type_name == "map":
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not a map"]
        return [e for k, v in value.items() for e in violations(shape.value, v, f"{path}.{k}")]
    return _scalar(shape, value, path)


def _structure(shape: Any, value: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: {type(value).__name__}, not a structure"]
    out = []
    for name in shape.required_members:
        member = shape.members[name]
        if name not in value and not member.serialization.get("location") and not member.metadata.get("streaming"):
            out.append(f"{path}.{name}: required, missing")
    for name, item in value.items():
        if name == "ResponseMetadata" or name not in shape.members or item is None:
            continue
        out += violations(shape.members[name], item, f"{path}.{name}")
    return out


def _scalar(shape: Any, value: Any, path: str) -> list[str]:
    types = SCALARS.get(shape.type_name)
    if types is None:
        return []
    if not isinstance(value, types) or (shape.type_name in ("integer", "long") and isinstance(value, bool)):
        return [f"{path}: {value!r} is not a {shape.type_name}"]
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        return [f"{path}: {value!r} not in the enum {shape.name} {shape.enum}"]
    if shape.type_name in ("integer", "long", "double", "float"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{path}: {value} outside [{low}, {high}]"]
    return []
