"""msgpack for the fleet's Redis entries (docs/fleet.md): one value per field.

Beside transport/codec.py (WebSocket frames), the only other module that
imports msgpack. Values are plain lists, maps, strings, numbers and bytes;
`unpack` refuses anything else with FleetCodecError.
"""

from __future__ import annotations

from typing import Any

import msgpack

# An entry is written by dispymon itself, but a stream is shared: a bound on
# what one field may unpack to keeps a bad writer from filling the reader.
MAX_FIELD = 256 * 2**20


class FleetCodecError(ValueError):
    """A field that is not msgpack dispymon wrote."""


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise FleetCodecError(f"expected bytes, got {type(data).__name__}")
    if len(data) > MAX_FIELD:
        raise FleetCodecError(f"a field of {len(data)} bytes is over the {MAX_FIELD}-byte limit")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # msgpack raises several kinds (ExtraData, ValueError, …)
        raise FleetCodecError(f"not msgpack: {type(exc).__name__}") from None
