"""Spider items and arguments as JSON for the queue: the spiders' item dataclasses by name, bytes inline (base64)
up to a cap or as content-addressed blobs that travel beside the message, the whole result bounded."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from typing import Any

from spiders.items import PolicyFileItem
from spiders.scraping_items import ArchivePage, CanaryFetch
from spiders.watch_items import WatchRequest, WatchResource

# Only these classes are rebuilt from a message: a result names its items' types, never arbitrary code (no pickle).
ITEM_TYPES: dict[str, type] = {
    cls.__name__: cls for cls in (PolicyFileItem, WatchResource, WatchRequest, CanaryFetch, ArchivePage)
}
_MARKERS = ("__item__", "__b64__", "__blob__", "__map__")


class ResultTooLarge(ValueError):
    """A result's bodies add up to more than distributed.max_result_bytes."""


class Encoder:
    """Turns items (and spider arguments) into JSON-ready values; bodies above ``inline_max`` bytes become
    ``blobs`` (sha256 -> bytes) that the caller stores beside the message. Raises ResultTooLarge past ``max_total``."""

    def __init__(self, inline_max: int, max_total: int):
        self.inline_max, self.max_total = inline_max, max_total
        self.blobs: dict[str, bytes] = {}
        self.total = 0

    def encode(self, value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            name = type(value).__name__
            if ITEM_TYPES.get(name) is not type(value):
                raise TypeError(f"{name} is not an item type the queue carries")
            fields = {f.name: self.encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return {"__item__": name, "fields": fields}
        if isinstance(value, bytes | bytearray):
            return self._bytes(bytes(value))
        if isinstance(value, dict):
            encoded = {str(k): self.encode(v) for k, v in value.items()}
            return {"__map__": encoded} if any(k in _MARKERS for k in encoded) else encoded
        if isinstance(value, list | tuple):
            return [self.encode(v) for v in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise TypeError(f"a {type(value).__name__} cannot travel through the queue")

    def _bytes(self, data: bytes) -> dict[str, Any]:
        self.total += len(data)
        if self.total > self.max_total:
            raise ResultTooLarge(f"the result's bodies exceed distributed.max_result_bytes ({self.max_total} bytes)")
        if len(data) <= self.inline_max:
            return {"__b64__": base64.b64encode(data).decode("ascii")}
        sha = hashlib.sha256(data).hexdigest()
        self.blobs[sha] = data
        return {"__blob__": sha, "size": len(data)}


def blob_refs(value: Any) -> set[str]:
    """The blob hashes an encoded value refers to (to fetch them before :func:`decode`)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if "__blob__" in v and len(v) == 2:
                found.add(v["__blob__"])
            else:
                stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def decode(value: Any, blobs: dict[str, bytes]) -> Any:
    """The inverse of :meth:`Encoder.encode`; raises ValueError for an unknown item type or a missing blob."""
    if isinstance(value, list):
        return [decode(v, blobs) for v in value]
    if not isinstance(value, dict):
        return value
    if "__item__" in value:
        cls = ITEM_TYPES.get(value["__item__"])
        if cls is None:
            raise ValueError(f"unknown item type {value['__item__']!r} in a result")
        return cls(**{k: decode(v, blobs) for k, v in value["fields"].items()})
    if "__b64__" in value:
        return base64.b64decode(value["__b64__"])
    if "__blob__" in value:
        data = blobs.get(value["__blob__"])
        if data is None:
            raise ValueError(f"blob {value['__blob__'][:12]}… of a result is gone (distributed.blob_ttl_seconds)")
        return data
    if "__map__" in value:
        return {k: decode(v, blobs) for k, v in value["__map__"].items()}
    return {k: decode(v, blobs) for k, v in value.items()}
