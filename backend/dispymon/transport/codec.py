"""Frames on the wire: one msgpack map per binary WebSocket frame.

The only module that imports msgpack.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable
from typing import Any

import msgpack


class CodecError(ValueError):
    """A frame that is not a msgpack map with a string `type`."""


class Packed(bytes):
    """A value already encoded (`pack`): `encode` splices it into a message as it is.

    A query's answer is encoded once and sent to every browser that asks the
    same question of the same data (api.py), each in its own `result`.
    """


def pack(value: Any) -> Packed:
    return Packed(msgpack.packb(value, use_bin_type=True))


def encode(message: dict[str, Any]) -> bytes:
    if type(message.get("value")) is Packed:  # a result carrying an answer encoded before
        packer = msgpack.Packer(use_bin_type=True)
        parts = [packer.pack_map_header(len(message))]
        for k, v in message.items():
            parts.append(packer.pack(k))
            parts.append(v if type(v) is Packed else packer.pack(v))
        return b"".join(parts)
    return msgpack.packb(message, use_bin_type=True)


# Fields of a snapshot or delta that are the same for every browser with the
# same view: `type`, `seq`, `node_jobs` and `job` (the followed job's detail) are per browser.
PER_CONNECTION = ("type", "seq", "node_jobs", "job")
_SHARED_LIMIT = 4  # encoded parts kept (a few ticks' worth; bounded memory)
_shared: collections.OrderedDict[Hashable, tuple[bytes, int]] = collections.OrderedDict()


def encode_shared(message: dict[str, Any], key: Hashable | None) -> bytes:
    """`encode(message)`, with the part shared by equal `key`s encoded once.

    A msgpack map is its length, then its keys and values one after the
    other, so the shared entries are packed once and spliced after this
    message's own `type` and `seq` (the way Home Assistant splices a cached
    event into each subscriber's message). `key` must determine the shared
    fields' content (views.ClientView.frame_key); None: no sharing.
    """
    if key is None:
        return encode(message)
    cached = _shared.get(key)
    if cached is None:
        fields = [(k, v) for k, v in message.items() if k not in PER_CONNECTION]
        packer = msgpack.Packer(use_bin_type=True)
        cached = _shared[key] = (b"".join(packer.pack(k) + packer.pack(v) for k, v in fields), len(fields))
        while len(_shared) > _SHARED_LIMIT:
            _shared.popitem(last=False)
    else:
        _shared.move_to_end(key)
    entries, count = cached
    own = [(k, message[k]) for k in PER_CONNECTION if k in message]
    packer = msgpack.Packer(use_bin_type=True)
    head = packer.pack_map_header(len(own) + count) + b"".join(packer.pack(k) + packer.pack(v) for k, v in own)
    return head + entries


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
