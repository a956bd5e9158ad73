"""A small writer for MS-CFB version 3 compound files (the container of `vbaProject.bin`).

Python has good CFB readers (olefile) but no well-kept writer: olefile can only overwrite existing
streams in place. This module writes a complete file from a mapping of stream paths to bytes.

Layout (all sectors 512 bytes, MS-CFB §2.2): header, FAT sectors, directory sectors, mini FAT
sectors, the mini stream (the root entry's stream, holding every stream smaller than 4096 bytes in
64-byte mini sectors), then the regular streams. Output depends only on the input: no timestamps,
no class ids, fixed sibling trees. Limits: at most 109 FAT sectors (no DIFAT sectors), about 6.8 MB,
far more than a VBA project needs.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
SECTOR_SIZE = 512
MINI_SECTOR_SIZE = 64
MINI_STREAM_CUTOFF = 4096
DIR_ENTRY_SIZE = 128
HEADER_DIFAT_ENTRIES = 109

FREESECT = 0xFFFFFFFF
ENDOFCHAIN = 0xFFFFFFFE
FATSECT = 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF

TYPE_STORAGE = 1
TYPE_STREAM = 2
TYPE_ROOT = 5
RED = 0
BLACK = 1

MAX_NAME_CHARS = 31
_FAT_ENTRIES_PER_SECTOR = SECTOR_SIZE // 4


class CfbError(ValueError):
    """The requested content cannot be written as a CFB v3 file."""


@dataclass
class _Entry:
    name: str
    kind: int
    data: bytes = b""
    children: dict[str, _Entry] = field(default_factory=dict)
    sid: int = 0
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def sort_key(name: str) -> tuple[int, str]:
    """MS-CFB §2.6.4 order of siblings: shorter names first, then by upper-cased UTF-16 units."""
    return (len(name.encode("utf-16-le")) // 2, name.upper())


def write_compound_file(streams: dict[str, bytes]) -> bytes:
    """Return a CFB v3 file holding `streams`, keyed by '/'-separated paths ("VBA/dir").

    Storages are created for every intermediate path component.
    """
    root = _build_tree(streams)
    entries = _number_entries(root)
    for entry in entries:
        if entry.kind in (TYPE_ROOT, TYPE_STORAGE):
            _link_siblings(entry)

    mini_streams = [e for e in entries if e.kind == TYPE_STREAM and 0 < len(e.data) < MINI_STREAM_CUTOFF]
    big_streams = [e for e in entries if e.kind == TYPE_STREAM and len(e.data) >= MINI_STREAM_CUTOFF]

    # Mini stream and mini FAT.
    mini_fat: list[int] = []
    mini_stream = bytearray()
    for entry in mini_streams:
        count = _ceil_div(len(entry.data), MINI_SECTOR_SIZE)
        entry.start = len(mini_fat)
        entry.size = len(entry.data)
        mini_fat.extend(range(entry.start + 1, entry.start + count))
        mini_fat.append(ENDOFCHAIN)
        mini_stream += _pad(entry.data, MINI_SECTOR_SIZE)
    for entry in entries:
        if entry.kind == TYPE_STREAM and not entry.data:
            entry.start, entry.size = ENDOFCHAIN, 0

    dir_sectors = _ceil_div(len(entries) * DIR_ENTRY_SIZE, SECTOR_SIZE)
    minifat_sectors = _ceil_div(len(mini_fat) * 4, SECTOR_SIZE)
    ministream_sectors = _ceil_div(len(mini_stream), SECTOR_SIZE)
    big_sectors = [_ceil_div(len(e.data), SECTOR_SIZE) for e in big_streams]
    payload_sectors = dir_sectors + minifat_sectors + ministream_sectors + sum(big_sectors)

    fat_sectors = 1
    while fat_sectors * _FAT_ENTRIES_PER_SECTOR < fat_sectors + payload_sectors:
        fat_sectors += 1
    if fat_sectors > HEADER_DIFAT_ENTRIES:
        raise CfbError("contenuto troppo grande per il file VBA")

    fat: list[int] = [FATSECT] * fat_sectors
    first_dir = _append_chain(fat, dir_sectors)
    first_minifat = _append_chain(fat, minifat_sectors) if minifat_sectors else ENDOFCHAIN
    root.start = _append_chain(fat, ministream_sectors) if ministream_sectors else ENDOFCHAIN
    root.size = len(mini_stream)
    for entry, count in zip(big_streams, big_sectors, strict=False):
        entry.start = _append_chain(fat, count)
        entry.size = len(entry.data)
    fat.extend([FREESECT] * (fat_sectors * _FAT_ENTRIES_PER_SECTOR - len(fat)))

    header = _header(fat_sectors, first_dir, first_minifat, minifat_sectors)
    out = bytearray(header)
    out += b"".join(struct.pack("<I", value) for value in fat)
    directory = b"".join(_dir_entry(e) for e in entries)
    unused = _unused_dir_entry()
    directory += unused * (dir_sectors * (SECTOR_SIZE // DIR_ENTRY_SIZE) - len(entries))
    out += directory
    mini_fat_bytes = b"".join(struct.pack("<I", v) for v in mini_fat)
    out += _pad(mini_fat_bytes, SECTOR_SIZE, fill=b"\xff")  # unused mini FAT entries: FREESECT
    out += _pad(bytes(mini_stream), SECTOR_SIZE)
    for entry in big_streams:
        out += _pad(entry.data, SECTOR_SIZE)
    return bytes(out)


def _build_tree(streams: dict[str, bytes]) -> _Entry:
    root = _Entry("Root Entry", TYPE_ROOT)
    for path, data in streams.items():
        parts = path.split("/")
        if any(not p or len(p) > MAX_NAME_CHARS or any(c in p for c in "/\\:!") for p in parts):
            raise CfbError(f"nome di flusso non valido: {path!r}")
        node = root
        for part in parts[:-1]:
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Entry(part, TYPE_STORAGE)
            elif child.kind != TYPE_STORAGE:
                raise CfbError(f"{part!r} è sia un flusso sia una cartella")
            node = child
        if parts[-1] in node.children:
            raise CfbError(f"flusso duplicato: {path!r}")
        node.children[parts[-1]] = _Entry(parts[-1], TYPE_STREAM, data=bytes(data))
    return root


def _number_entries(root: _Entry) -> list[_Entry]:
    """Directory order: breadth first, siblings in CFB order (any order is valid; this one is stable)."""
    ordered: list[_Entry] = []
    queue = [root]
    while queue:
        entry = queue.pop(0)
        entry.sid = len(ordered)
        ordered.append(entry)
        queue.extend(sorted(entry.children.values(), key=lambda e: sort_key(e.name)))
    return ordered


def _link_siblings(storage: _Entry) -> None:
    """Make the children of `storage` a balanced binary search tree, coloured as a red-black tree.

    Built by splitting the sorted list at its middle, every leaf sits on the last or the
    second-to-last level; colouring the last level red (unless the tree is perfect) keeps the same
    number of black nodes on every path and no red node under a red one.
    """
    children = sorted(storage.children.values(), key=lambda e: sort_key(e.name))
    if not children:
        return
    depths: dict[int, int] = {}

    def build(lo: int, hi: int, depth: int) -> int:
        if lo > hi:
            return NOSTREAM
        mid = (lo + hi + 1) // 2
        node = children[mid]
        depths[id(node)] = depth
        node.left = build(lo, mid - 1, depth + 1)
        node.right = build(mid + 1, hi, depth + 1)
        return node.sid

    storage.child = build(0, len(children) - 1, 0)
    max_depth = max(depths.values())
    perfect = len(children) == 2 ** (max_depth + 1) - 1
    for node in children:
        node.color = RED if (not perfect and depths[id(node)] == max_depth) else BLACK


def _append_chain(fat: list[int], count: int) -> int:
    """Append a chain of `count` consecutive sectors to the FAT; return its first sector."""
    first = len(fat)
    fat.extend(range(first + 1, first + count))
    fat.append(ENDOFCHAIN)
    return first


def _header(fat_sectors: int, first_dir: int, first_minifat: int, minifat_sectors: int) -> bytes:
    difat = list(range(fat_sectors)) + [FREESECT] * (HEADER_DIFAT_ENTRIES - fat_sectors)
    header = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        SIGNATURE,
        b"\x00" * 16,   # header CLSID
        0x003E,         # minor version
        0x0003,         # major version 3
        0xFFFE,         # byte order: little endian
        9,              # sector shift: 512-byte sectors
        6,              # mini sector shift: 64-byte mini sectors
        b"\x00" * 6,    # reserved
        0,              # number of directory sectors (must be 0 in v3)
        fat_sectors,
        first_dir,
        0,              # transaction signature
        MINI_STREAM_CUTOFF,
        first_minifat,
        minifat_sectors,
        ENDOFCHAIN,     # first DIFAT sector: none
        0,              # number of DIFAT sectors
    )
    header += b"".join(struct.pack("<I", v) for v in difat)
    assert len(header) == SECTOR_SIZE
    return header


def _dir_entry(entry: _Entry) -> bytes:
    name = entry.name.encode("utf-16-le") + b"\x00\x00"
    return struct.pack(
        "<64sHBBIII16sIQQIQ",
        name,
        len(name),
        entry.kind,
        entry.color,
        entry.left,
        entry.right,
        entry.child,
        b"\x00" * 16,   # CLSID
        0,              # state bits
        0,              # creation time
        0,              # modification time
        entry.start if entry.kind != TYPE_STORAGE else 0,
        entry.size if entry.kind != TYPE_STORAGE else 0,
    )


def _unused_dir_entry() -> bytes:
    return struct.pack("<64sHBBIII16sIQQIQ", b"", 0, 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, b"", 0, 0, 0, 0, 0)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _pad(data: bytes, size: int, fill: bytes = b"\x00") -> bytes:
    remainder = len(data) % size
    return data if remainder == 0 else data + fill * (size - remainder)
