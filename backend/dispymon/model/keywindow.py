"""A small code (0-255) per job key, for the most recent keys, in a fixed number of bytes.

Pure. Jobs' keys are one increasing sequence (model/jobkeys.py), and what
the jobs feature remembers per key beyond its budgets — that an entry was
let go, or why a job's arguments were not kept — matters for recent jobs.
A dict of a hundred thousand such keys costs ~200 bytes each (20 MB,
docs/benchmarks.md, benchmark 10); this keeps one byte per key for the
newest `size` keys: a key far older than the newest one set reads 0
("nothing noted"), which the callers word as "no longer kept".
"""

from __future__ import annotations


class KeyWindow:
    __slots__ = ("_base", "_codes", "size")

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("a key window holds at least one key")
        self.size = size
        self._base = 0  # the key at _codes[0]
        self._codes = bytearray(size)

    @property
    def nbytes(self) -> int:
        return self.size

    def set(self, key: int, code: int) -> None:
        """Note `code` (1-255; 0 forgets) for `key`; a key older than the window is ignored."""
        offset = key - self._base
        if offset < 0:
            return
        if offset >= self.size:
            # slide so that `key` lands at the window's middle: each slide keeps half the
            # window's recent past and leaves room for half a window of newer keys
            shift = offset - self.size // 2
            codes = self._codes
            if shift >= self.size:
                codes[:] = bytes(self.size)
            else:
                codes[: self.size - shift] = codes[shift:]
                codes[self.size - shift :] = bytes(shift)
            self._base += shift
            offset -= shift
        self._codes[offset] = code

    def get(self, key: int) -> int:
        offset = key - self._base
        return self._codes[offset] if 0 <= offset < self.size else 0
