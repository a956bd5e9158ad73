"""The CFB writer, checked with olefile (an independent reader) and a raw look at its directory."""

from __future__ import annotations

import io
import struct

import olefile
import pytest

from pecmass_xl.workbook.cfb import CfbError, sort_key, write_compound_file

NOSTREAM = 0xFFFFFFFF


def _open(data: bytes) -> olefile.OleFileIO:
    # DEFECT_INCORRECT: olefile raises on anything the spec calls incorrect, not just fatal.
    return olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)


def _sample_streams() -> dict[str, bytes]:
    sizes = [1, 63, 64, 65, 511, 512, 513, 4095, 4096, 4097, 70_000]
    streams = {f"S/n{size}": bytes((i * 7 + size) % 251 for i in range(size)) for size in sizes}
    streams["PROJECT"] = b'ID="{00000000-0000-0000-0000-000000000000}"\r\n'
    streams["VBA/dir"] = b"\x01" * 300
    streams["VBA/Deep/Er/Still"] = b"nested"
    streams["Empty"] = b""
    return streams


def test_olefile_reads_back_every_stream_exactly():
    streams = _sample_streams()
    ole = _open(write_compound_file(streams))
    listed = {"/".join(parts) for parts in ole.listdir(streams=True, storages=False)}
    assert listed == set(streams)
    for path, data in streams.items():
        assert ole.get_size(path) == len(data)
        assert ole.openstream(path).read() == data
    assert {"/".join(p) for p in ole.listdir(streams=False, storages=True)} >= {"S", "VBA", "VBA/Deep", "VBA/Deep/Er"}


def test_large_files_need_several_fat_and_directory_sectors():
    streams = {f"M{i:03d}": bytes([i]) * (5000 + i) for i in range(200)}  # ~1 MB, 201 entries
    data = write_compound_file(streams)
    fat_sectors, first_dir = struct.unpack_from("<II", data, 44)
    assert fat_sectors > 1
    ole = _open(data)
    assert all(ole.openstream(k).read() == v for k, v in streams.items())


def test_output_is_deterministic_and_sector_aligned():
    streams = _sample_streams()
    reordered = dict(reversed(list(streams.items())))
    first = write_compound_file(streams)
    assert first == write_compound_file(streams) == write_compound_file(reordered)
    assert len(first) % 512 == 0
    assert first[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    minor, major, byte_order, sector_shift, mini_shift = struct.unpack_from("<HHHHH", first, 24)
    assert (major, byte_order, sector_shift, mini_shift) == (3, 0xFFFE, 9, 6)
    assert struct.unpack_from("<I", first, 56)[0] == 4096  # mini stream cutoff


def _directory(data: bytes) -> list[dict]:
    """Parse the directory entries straight from the file (independent of the writer)."""
    first_dir = struct.unpack_from("<I", data, 48)[0]
    fat_count = struct.unpack_from("<I", data, 44)[0]
    difat = struct.unpack_from("<109I", data, 76)[:fat_count]
    fat = []
    for sector in difat:
        fat += struct.unpack_from("<128I", data, 512 + sector * 512)
    entries, sector = [], first_dir
    while sector != 0xFFFFFFFE:
        for k in range(4):
            raw = data[512 + sector * 512 + k * 128: 512 + sector * 512 + (k + 1) * 128]
            name_len, kind, color, left, right, child = struct.unpack_from("<HBBIII", raw, 64)
            name = raw[: max(name_len - 2, 0)].decode("utf-16-le")
            entries.append(dict(name=name, kind=kind, color=color, left=left, right=right, child=child))
        sector = fat[sector]
    return entries


def test_sibling_trees_are_ordered_red_black_trees():
    streams = {f"VBA/{name}": b"x" for name in
               ["dir", "_VBA_PROJECT", "ThisWorkbook", "FoglioDestinatari", "FoglioMessaggio",
                "FoglioImpostazioni", "FoglioRiepilogo", "FoglioPecmass", "PecMassiva", "a", "B", "cc"]}
    streams.update({"PROJECT": b"p", "PROJECTwm": b"w"})
    entries = _directory(write_compound_file(streams))
    assert entries[0]["name"] == "Root Entry" and entries[0]["kind"] == 5 and entries[0]["color"] == 1

    def walk(node: int) -> list[int]:
        if node == NOSTREAM:
            return []
        e = entries[node]
        return walk(e["left"]) + [node] + walk(e["right"])

    def black_height(node: int) -> int:
        if node == NOSTREAM:
            return 1
        e = entries[node]
        left, right = black_height(e["left"]), black_height(e["right"])
        assert left == right, "every path must hold the same number of black nodes"
        if e["color"] == 0:  # red: no red child
            for child in (e["left"], e["right"]):
                assert child == NOSTREAM or entries[child]["color"] == 1
        return left + (e["color"] == 1)

    storages = [e for e in entries if e["kind"] in (1, 5)]
    for storage in storages:
        ordered = [entries[i]["name"] for i in walk(storage["child"])]
        assert ordered == sorted(ordered, key=sort_key)
        if storage["child"] != NOSTREAM:
            assert entries[storage["child"]]["color"] == 1
            black_height(storage["child"])
    vba = next(e for e in entries if e["name"] == "VBA")
    assert len(walk(vba["child"])) == 12


def test_cfb_sort_order_is_length_first():
    assert sorted(["dir", "PROJECTwm", "VBA", "PROJECT", "ab"], key=sort_key) == ["ab", "dir", "VBA", "PROJECT", "PROJECTwm"]


@pytest.mark.parametrize("path", ["", "a//b", "x" * 32, "a/b:c", "bad\\name"])
def test_invalid_names_are_refused(path):
    with pytest.raises(CfbError):
        write_compound_file({path: b"1"})


def test_a_stream_cannot_also_be_a_storage():
    with pytest.raises(CfbError):
        write_compound_file({"A": b"1", "A/B": b"2"})
