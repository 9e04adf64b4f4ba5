"""Frames onto the WebSocket, compressed once for every browser that shares them.

aiohttp compresses each connection's frames with that connection's own
deflate stream (permessage-deflate with context takeover): a delta or a
snapshot that 200 browsers share was compressed 200 times, each copy kept in
its socket's buffer, and each connection held a compressor (~256 KiB).
Here a frame is the per-browser head (its map header, `type`, `seq`, its own
fields: codec.encode_parts) followed by the part every browser shares, and
each is deflated on its own: the head as a stored (uncompressed) block when
small, the shared part once per frame key and window size, by one
compressor per window size that is reset (Z_FULL_FLUSH) after every use, so
its output never refers to anything before it. Deflate streams concatenate
at such byte-aligned flush points, and a sender may always choose not to
refer to earlier messages (RFC 7692 7.2.1), so the payload is a valid
permessage-deflate message for any browser whatever it negotiated about
context takeover; and every frame of such a connection goes through here,
so no frame refers to another.

aiohttp has no public call to write an already compressed frame: `RawSender`
writes it through the connection's transport, the way aiohttp's own writer
does (header, RSV1 for a compressed frame, payload; then waits while the
transport is paused), and is used only when those internals are as expected
(aiohttp 3.14); otherwise frames go through `send_bytes` as before.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

from aiohttp import WSMsgType, web

from dispymon.transport.codec import Shared

_TRAILER = b"\x00\x00\xff\xff"  # an empty stored block: the end of a sync/full flush (RFC 7692 7.2.1)
STORED_MAX = 4096  # a head up to this size goes as a stored block: not worth deflating
_LEVEL = 1  # aiohttp's level for WebSocket frames (Z_BEST_SPEED)


class _Deflaters:
    """One raw-deflate compressor per window size, reset after every use."""

    def __init__(self) -> None:
        self._by_wbits: dict[int, Any] = {}

    def deflate(self, data: bytes, wbits: int) -> bytes:
        """`data` deflated on its own, ending at a byte boundary with the 4-byte trailer."""
        z = self._by_wbits.get(wbits)
        if z is None:
            z = self._by_wbits[wbits] = zlib.compressobj(_LEVEL, zlib.DEFLATED, -wbits)
        # Z_FULL_FLUSH resets the compressor: the next input is compressed as
        # if by a new one, so no output refers to an earlier one
        return z.compress(data) + z.flush(zlib.Z_FULL_FLUSH)


_deflaters = _Deflaters()


def _deflate_last(data: bytes, wbits: int) -> bytes:
    """`data` deflated as the last part of a message: without the trailer, which the browser adds back."""
    return _deflaters.deflate(data, wbits).removesuffix(_TRAILER)


def stored(data: bytes) -> bytes:
    """`data` as uncompressed deflate blocks (not final, byte-aligned)."""
    out = []
    for i in range(0, len(data), 0xFFFF):
        chunk = data[i : i + 0xFFFF]
        out.append(b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk)
    return b"".join(out)


def deflated_head(head: bytes, wbits: int, last: bool) -> bytes:
    """A browser's own part of a frame: a stored block when small, else deflated.

    `last`: nothing follows in the message, which then ends as the receiver
    expects, with an empty stored block whose last 4 bytes (the trailer) are
    left out: after a byte-aligned stored block its header is a byte of its
    own (0x00); after deflated data it shares the last byte.
    """
    if len(head) <= STORED_MAX:
        return stored(head) + b"\x00" if last else stored(head)
    out = _deflaters.deflate(head, wbits)
    return out.removesuffix(_TRAILER) if last else out


def _frame_header(length: int, rsv: int) -> bytes:
    first = 0x80 | rsv | WSMsgType.BINARY  # FIN, RSV1 when compressed, opcode
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 65536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def prepare_shared(head: bytes, shared: Shared, wbits: int = 15) -> None:
    """Deflate a shared part now (for the window browsers ask for), so its cost falls where the caller counts it."""
    if shared.data:
        shared.deflated(wbits, _deflate_last)


class RawSender:
    """Writes one connection's binary frames, compressed as the module's doc says.

    Only the connection's pump and its handler (hello) write through it, one at a time.
    """

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        writer = getattr(ws, "_writer", None)
        protocol = getattr(writer, "protocol", None)
        transport = getattr(writer, "transport", None)
        # aiohttp's internals this relies on (3.14): else plain send_bytes
        self.raw = (
            transport is not None
            and hasattr(transport, "write")
            and hasattr(protocol, "_paused")
            and hasattr(protocol, "_drain_helper")
        )
        self._writer = writer
        self._transport = transport
        self._protocol = protocol
        compress = ws.compress
        # the server's window (server_max_window_bits) negotiated, 0: no compression
        self.wbits = int(compress) if compress and not isinstance(compress, bool) else (15 if compress else 0)

    async def send(self, head: bytes, shared: Shared) -> None:
        """A snapshot or delta (codec.encode_parts): the shared part deflated once per frame key."""
        if not self.raw:
            await self.ws.send_bytes(head + shared.data)
            return
        if self.wbits:
            body = shared.deflated(self.wbits, _deflate_last) if shared.data else b""
            await self._write((deflated_head(head, self.wbits, last=not body), body), 0x40)
        else:
            await self._write((head, shared.data), 0)

    async def send_bytes(self, frame: bytes) -> None:
        """A frame of its own (hello, a result, an error)."""
        if not self.raw:
            await self.ws.send_bytes(frame)
        elif self.wbits:
            await self._write((deflated_head(frame, self.wbits, last=True),), 0x40)
        else:
            await self._write((frame,), 0)

    async def _write(self, parts: tuple[bytes, ...], rsv: int) -> None:
        transport = self._transport
        assert transport is not None
        if self.ws.closed or getattr(self._writer, "_closing", False) or transport.is_closing():
            raise ConnectionResetError("Cannot write to closing transport")
        length = sum(len(p) for p in parts)
        transport.write(_frame_header(length, rsv))
        for part in parts:
            if part:
                # the shared bytes object itself: the transport keeps a reference
                # (or copies only what the socket did not take at once)
                transport.write(part)
        protocol = self._protocol
        if protocol._paused:  # type: ignore[union-attr]
            # the peer reads slowly: wait, as aiohttp's writer does; the next
            # frame then carries everything since this one (no queue)
            await protocol._drain_helper()  # type: ignore[union-attr]
