"""Frames on the wire: one msgpack map per binary WebSocket frame.

The only module that imports msgpack.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Hashable
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
# Encoded parts kept: a few ticks' worth, and during a crowd's arrival the
# snapshots and first deltas of a few batches (server.SnapshotBatches); bounded
# in count and bytes (the newest is always kept).
_SHARED_LIMIT = 16
_SHARED_BYTES = 64 * 2**20


class Shared:
    """The encoded entries every browser with one frame key shares, and their
    deflated forms per window size (made once, by transport/wire.py)."""

    __slots__ = ("data", "count", "_deflated")

    def __init__(self, data: bytes, count: int) -> None:
        self.data = data
        self.count = count
        self._deflated: dict[int, bytes] = {}

    def deflated(self, wbits: int, deflate: Callable[[bytes, int], bytes]) -> bytes:
        """`deflate(data, wbits)`, made once per window size and kept with the entries."""
        out = self._deflated.get(wbits)
        if out is None:
            out = self._deflated[wbits] = deflate(self.data, wbits)
        return out

    def size(self) -> int:
        return len(self.data) + sum(len(d) for d in self._deflated.values())


_shared: collections.OrderedDict[Hashable, Shared] = collections.OrderedDict()
_NOTHING_SHARED = Shared(b"", 0)


def encode_parts(message: dict[str, Any], key: Hashable | None) -> tuple[bytes, Shared]:
    """`encode(message)` in two parts: this message's head (map header, then
    its own `type`, `seq` and per-browser fields) and the entries shared by
    every message with an equal `key`, packed once. A msgpack map is its
    length, then its keys and values one after the other, so head + entries
    is the whole map (the way Home Assistant splices a cached event into each
    subscriber's message). `key` must determine the shared fields' content
    (views.ClientView.frame_key); None: nothing shared.
    """
    if key is None:
        return encode(message), _NOTHING_SHARED
    cached = _shared.get(key)
    if cached is None:
        fields = [(k, v) for k, v in message.items() if k not in PER_CONNECTION]
        packer = msgpack.Packer(use_bin_type=True)
        cached = _shared[key] = Shared(b"".join(packer.pack(k) + packer.pack(v) for k, v in fields), len(fields))
        while len(_shared) > _SHARED_LIMIT:
            _shared.popitem(last=False)
        # (a handful of entries: their sizes summed when one is added)
        while len(_shared) > 1 and sum(e.size() for e in _shared.values()) > _SHARED_BYTES:
            _shared.popitem(last=False)
    else:
        _shared.move_to_end(key)
    own = [(k, message[k]) for k in PER_CONNECTION if k in message]
    packer = msgpack.Packer(use_bin_type=True)
    head = packer.pack_map_header(len(own) + cached.count) + b"".join(packer.pack(k) + packer.pack(v) for k, v in own)
    return head, cached


def encode_shared(message: dict[str, Any], key: Hashable | None) -> bytes:
    """`encode(message)`, with the part shared by equal `key`s encoded once (`encode_parts`)."""
    head, shared = encode_parts(message, key)
    return head + shared.data


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
