"""Frames on the wire: one msgpack map per binary WebSocket frame.

The only module that imports msgpack.
"""

from __future__ import annotations

from typing import Any

import msgpack


class CodecError(ValueError):
    """A frame that is not a msgpack map with a string `type`."""


def encode(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)


def decode(frame: bytes, *, max_len: int = 1 << 20) -> dict[str, Any]:
    if len(frame) > max_len:
        raise CodecError(f"frame of {len(frame)} bytes is over the {max_len}-byte limit")
    try:
        # msgpack bounds every container and string by the frame's length,
        # so a hostile frame cannot make us allocate more than it carries
        message = msgpack.unpackb(frame, raw=False, strict_map_key=False)
    except Exception as exc:  # msgpack raises several unrelated types
        raise CodecError(f"not a msgpack frame ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise CodecError("a frame must be a msgpack map")
    if not isinstance(message.get("type"), str):
        raise CodecError("a frame must have a string 'type'")
    return message
