"""What a worker sends back, without pickle: plain data as JSON, arrays and bytes beside it.

A job's reply (progress events, its result, its error) is a tree of None, bools, numbers,
strings, lists, tuples, dicts, sets, bytes, numpy arrays and scalars, and the explorer's own
dataclasses, enums and errors. `dump_reply` writes it as one JSON document in which
containers other than lists and str-keyed dicts, arrays, bytes and explorer classes are
tagged objects; arrays travel as `numpy.save` bytes and are read with
`numpy.load(allow_pickle=False)`, so an object array cannot come back. `load_reply` rebuilds
only what the tags name, and a class only when it is defined in an `explorer` module (its
`__module__`, not a dotted path through one) and is a dataclass, an enum or an ExplorerError:
a worker that decoded a hostile picture still cannot make the server run code or rebuild any
other object. Anything else in a reply is refused on the worker's side (`ReplyError`), so a
job that returns a torch tensor fails with that sentence instead of sending it.

Layout: 8 bytes (the JSON's length), the JSON, then each blob as 8 bytes of length + bytes.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import io
import json
import struct
from typing import Any

import numpy as np

from explorer.core.errors import ExplorerError

__all__ = ["ReplyError", "dump_reply", "load_reply"]

_LENGTH = struct.Struct(">Q")
_MAX_DEPTH = 200  # replies are shallow (a result, its records, their arrays)


class ReplyError(ExplorerError, ValueError):
    """A reply that is not plain data, or that names something it may not rebuild."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _encode(value: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ReplyError(f"a job's reply is nested more than {_MAX_DEPTH} levels deep")
    deeper = depth + 1
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, enum.Enum):  # before int: an IntEnum is an int too
        return {"$enum": _class_name(type(value)), "value": _encode(value.value, blobs, deeper)}
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, np.generic):
        if value.dtype.hasobject:
            raise ReplyError("a job's reply may not hold a numpy object scalar")
        return {"$np": value.dtype.str, "value": value.item()}
    if isinstance(value, np.ndarray):
        buffer = io.BytesIO()
        try:
            np.save(buffer, value, allow_pickle=False)
        except ValueError:
            raise ReplyError("a job's reply may not hold a numpy object array") from None
        blobs.append(buffer.getvalue())
        return {"$array": len(blobs) - 1}
    if isinstance(value, (bytes, bytearray)):
        blobs.append(bytes(value))
        return {"$bytes": len(blobs) - 1}
    if isinstance(value, list):
        return [_encode(v, blobs, deeper) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return {"$tuple": [_encode(v, blobs, deeper) for v in value]}
    if isinstance(value, (set, frozenset)):
        tag = "$frozenset" if isinstance(value, frozenset) else "$set"
        return {tag: [_encode(v, blobs, deeper) for v in value]}
    if isinstance(value, dict) and type(value) is dict:
        return {"$dict": [[_encode(k, blobs, deeper), _encode(v, blobs, deeper)]
                          for k, v in value.items()]}  # fmt: skip
    if isinstance(value, ExplorerError) and _ours(type(value)):
        return {"$error": _class_name(type(value)),
                "args": [_encode(a, blobs, deeper) for a in value.args],
                "message": str(value)}  # fmt: skip
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and _ours(type(value)):
        fields = {f.name: _encode(getattr(value, f.name), blobs, deeper)
                  for f in dataclasses.fields(value)}  # fmt: skip
        return {"$dataclass": _class_name(type(value)), "fields": fields}
    raise ReplyError(
        f"a job's reply may not hold a {type(value).__module__}.{type(value).__qualname__}"
    )


def _ours(cls: type) -> bool:
    module = getattr(cls, "__module__", "") or ""
    return module == "explorer" or module.startswith("explorer.")


def dump_reply(value: Any) -> bytes:
    """`value` as bytes for the channel (see the module's docstring); ReplyError when it holds
    anything but plain data."""
    blobs: list[bytes] = []
    document = json.dumps(_encode(value, blobs, 0), separators=(",", ":")).encode("utf-8")
    parts = [_LENGTH.pack(len(document)), document]
    for blob in blobs:
        parts += [_LENGTH.pack(len(blob)), blob]
    return b"".join(parts)


def _resolve(name: Any, kind: str) -> type:
    """The explorer class `module:qualname` names, if it is of the allowed kind."""
    if not isinstance(name, str) or name.count(":") != 1:
        raise ReplyError(f"a job's reply names {str(name)[:80]!r}, not a class")
    module_name, qualname = name.split(":")
    if not (module_name == "explorer" or module_name.startswith("explorer.")) or "." in qualname:
        raise ReplyError(f"a job's reply may not hold {module_name}.{qualname}")
    try:
        found = getattr(importlib.import_module(module_name), qualname)
    except (ImportError, AttributeError):
        raise ReplyError(f"a job's reply names {module_name}.{qualname}, which the server "
                         "does not have") from None  # fmt: skip
    allowed = {
        "$dataclass": lambda c: dataclasses.is_dataclass(c),
        "$enum": lambda c: issubclass(c, enum.Enum),
        "$error": lambda c: issubclass(c, ExplorerError),
    }[kind]
    if not (isinstance(found, type) and _ours(found) and allowed(found)):
        raise ReplyError(f"a job's reply may not hold {module_name}.{qualname}")
    return found


def _decode(value: Any, blobs: list[bytes], depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ReplyError(f"a job's reply is nested more than {_MAX_DEPTH} levels deep")
    deeper = depth + 1
    if isinstance(value, list):
        return [_decode(v, blobs, deeper) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag == "$tuple":
            return tuple(_decode(v, blobs, deeper) for v in inner)
        if tag == "$set":
            return {_decode(v, blobs, deeper) for v in inner}
        if tag == "$frozenset":
            return frozenset(_decode(v, blobs, deeper) for v in inner)
        if tag == "$dict":
            return {_decode(k, blobs, deeper): _decode(v, blobs, deeper) for k, v in inner}
        if tag == "$bytes":
            return blobs[inner]
        if tag == "$array":
            return np.load(io.BytesIO(blobs[inner]), allow_pickle=False)
    if "$np" in value:
        dtype = np.dtype(value["$np"])
        if dtype.hasobject:
            raise ReplyError("a job's reply may not hold a numpy object scalar")
        return dtype.type(value["value"])
    if "$enum" in value:
        return _resolve(value["$enum"], "$enum")(_decode(value["value"], blobs, deeper))
    if "$error" in value:
        cls = _resolve(value["$error"], "$error")
        args = [_decode(a, blobs, deeper) for a in value.get("args", [])]
        try:
            error = cls(*args)
        except Exception:
            return ExplorerError(str(value.get("message", "")))
        return error
    if "$dataclass" in value:
        cls = _resolve(value["$dataclass"], "$dataclass")
        fields = {f.name for f in dataclasses.fields(cls)}
        given = value.get("fields", {})
        if not isinstance(given, dict) or set(given) != fields:
            raise ReplyError(f"a job's reply gives {cls.__qualname__} the wrong fields")
        record: Any = object.__new__(cls)
        for name, field_value in given.items():  # as pickle does: no __init__ re-run
            object.__setattr__(record, name, _decode(field_value, blobs, deeper))
        return record
    raise ReplyError("a job's reply holds an object that is not a tagged value")


def load_reply(data: bytes) -> Any:
    """A worker's message, rebuilt from `dump_reply`'s bytes (see the module's docstring)."""
    view = memoryview(data)
    try:
        (length,) = _LENGTH.unpack_from(view, 0)
        document = json.loads(bytes(view[8 : 8 + length]).decode("utf-8"))
        blobs, at = [], 8 + length
        while at < len(view):
            (size,) = _LENGTH.unpack_from(view, at)
            blobs.append(bytes(view[at + 8 : at + 8 + size]))
            at += 8 + size
    except (struct.error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ReplyError(f"a job's reply is not readable ({type(exc).__name__})") from None
    if at != len(view):
        raise ReplyError("a job's reply ends inside a blob")
    try:
        return _decode(document, blobs, 0)
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReplyError):
            raise
        raise ReplyError(f"a job's reply is malformed ({type(exc).__name__})") from None
