"""Writes `vbaProject.bin` from VBA source text, in the interoperable form of MS-OVBA.

Office compiles such a project from source: `_VBA_PROJECT` has version 0xFFFF and no performance
cache (MS-OVBA §1.6, §2.3.4.1), every module stream holds only its compressed source (MODULEOFFSET
0), no `__SRP_` streams. The project is unprotected and visible; its protection fields (CMG, DPB,
GC) are encrypted as MS-OVBA §2.4.3 requires, with bytes drawn from a seeded generator so that the
output is reproducible.

Section numbers in comments refer to [MS-OVBA].
"""

from __future__ import annotations

import random
import re
import struct
from dataclasses import dataclass

from pecmass_xl.workbook.cfb import write_compound_file

CODE_PAGE = 1252
ENCODING = "cp1252"
LCID = 0x0409
SYSKIND_WIN64 = 3

MODULE_PROCEDURAL = "procedural"
MODULE_DOCUMENT = "document"

# Host extender of every Excel/Office project (2.3.1.18).
HOST_EXTENDER = "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000"

# The references Excel gives every new project besides the implicit VBA and Excel libraries.
STDOLE_REFERENCE = (
    "stdole",
    r"*\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\Windows\System32\stdole2.tlb#OLE Automation",
)
OFFICE_REFERENCE = (
    "Office",
    r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#"
    r"C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL#Microsoft Office 16.0 Object Library",
)

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,30}\Z")


@dataclass(frozen=True)
class Module:
    """One VBA module: its name (also its stream name), kind and source text (any line ends)."""

    name: str
    kind: str
    source: str

    def encoded_source(self) -> bytes:
        """The source as stored: CRLF line ends, code page 1252, ending with a line break."""
        text = self.source.replace("\r\n", "\n").replace("\r", "\n")
        if not text.endswith("\n"):
            text += "\n"
        return text.replace("\n", "\r\n").encode(ENCODING)


@dataclass(frozen=True)
class Project:
    name: str
    project_id: str  # "{GUID}", upper case
    modules: tuple[Module, ...]
    references: tuple[tuple[str, str], ...] = (STDOLE_REFERENCE, OFFICE_REFERENCE)
    seed: int = 0


# ---------------------------------------------------------------------------------------------
# 2.4.1 Compression


def compress(data: bytes) -> bytes:
    """MS-OVBA CompressedContainer: signature byte, then one chunk per 4096 input bytes."""
    out = bytearray(b"\x01")
    for start in range(0, len(data), 4096):
        out += _compress_chunk(data[start:start + 4096])
    return bytes(out)


def _compress_chunk(chunk: bytes) -> bytes:
    """One CompressedChunk (2.4.1.3.7): flag bytes, each followed by up to 8 literal/copy tokens."""
    body = bytearray()
    positions: dict[bytes, list[int]] = {}  # 3-byte prefix -> earlier positions holding it
    indexed = 0  # positions below this are in `positions`
    index, size = 0, len(chunk)
    while index < size:
        flag_at = len(body)
        body.append(0)
        flags = 0
        for bit in range(8):
            if index >= size:
                break
            for p in range(indexed, min(index, size - 2)):
                positions.setdefault(chunk[p:p + 3], []).append(p)
            indexed = max(indexed, index)
            offset, length = _longest_match(chunk, index, positions)
            if length:
                bit_count = max((index - 1).bit_length(), 4)  # 2.4.1.3.19.1 CopyToken Help
                token = ((offset - 1) << (16 - bit_count)) | (length - 3)
                body += struct.pack("<H", token)
                flags |= 1 << bit
                index += length
            else:
                body.append(chunk[index])
                index += 1
        body[flag_at] = flags

    if len(body) <= 4096:
        return struct.pack("<H", (len(body) + 2 - 3) | (0b011 << 12) | (1 << 15)) + body
    if size == 4096:  # incompressible full chunk: stored raw (2.4.1.3.10)
        return struct.pack("<H", 4095 | (0b011 << 12)) + chunk
    raise ValueError("final chunk cannot be stored: incompressible and shorter than 4096 bytes")


def _longest_match(chunk: bytes, index: int, positions: dict[bytes, list[int]]) -> tuple[int, int]:
    """Longest earlier match (>= 3 bytes, overlap allowed) within the copy-token limits."""
    candidates = positions.get(chunk[index:index + 3])
    if not candidates:
        return 0, 0
    bit_count = max((index - 1).bit_length(), 4)
    limit = min((0xFFFF >> bit_count) + 3, len(chunk) - index)
    best_offset, best_length = 0, 0
    for candidate in reversed(candidates[-256:]):  # nearest first; bounded work
        length = 3
        while length < limit and chunk[candidate + length] == chunk[index + length]:
            length += 1
        if length > best_length:
            best_offset, best_length = index - candidate, length
            if length == limit:
                break
    return (best_offset, best_length) if best_length >= 3 else (0, 0)


# ---------------------------------------------------------------------------------------------
# 2.4.3 Data encryption (CMG, DPB, GC of the PROJECT stream)


def encrypt(data: bytes, project_id: str, rng: random.Random) -> str:
    """Encrypt `data` as MS-OVBA 2.4.3.2 describes; returns upper-case hex."""
    seed = rng.randrange(256)
    version = 2
    project_key = sum(project_id.encode(ENCODING)) & 0xFF
    version_enc = seed ^ version
    key_enc = seed ^ project_key
    out = bytearray([seed, version_enc, key_enc])
    unencrypted_1, encrypted_1, encrypted_2 = project_key, key_enc, version_enc
    for _ in range((seed & 6) // 2):  # ignored bytes: any value
        temp = rng.randrange(256)
        byte_enc = temp ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(byte_enc)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, temp
    for byte in struct.pack("<I", len(data)) + data:
        byte_enc = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(byte_enc)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
    return out.hex().upper()


def decrypt(hex_text: str) -> tuple[bytes, int]:
    """Inverse of `encrypt` (2.4.3.3); returns (data, project key). Used by tests and diagnostics."""
    raw = bytes.fromhex(hex_text)
    seed, version_enc, key_enc = raw[0], raw[1], raw[2]
    if seed ^ version_enc != 2:
        raise ValueError("unexpected encryption version")
    project_key = seed ^ key_enc
    unencrypted_1, encrypted_1, encrypted_2 = project_key, key_enc, version_enc
    plain = bytearray()
    ignored = (seed & 6) // 2
    for index, byte_enc in enumerate(raw[3:]):
        byte = byte_enc ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
        if index >= ignored:
            plain.append(byte)
    length = struct.unpack("<I", bytes(plain[:4]))[0]
    data = bytes(plain[4:])
    if len(data) != length:
        raise ValueError("length mismatch in encrypted data")
    return data, project_key


# ---------------------------------------------------------------------------------------------
# Streams


def vba_project_stream() -> bytes:
    """2.3.4.1 _VBA_PROJECT: reserved 0x61CC, version 0xFFFF, no performance cache."""
    return struct.pack("<HHBH", 0x61CC, 0xFFFF, 0x00, 0x0001)


def _record(record_id: int, payload: bytes) -> bytes:
    return struct.pack("<HI", record_id, len(payload)) + payload


def _text_records(record_id: int, unicode_id: int, text: str) -> bytes:
    """A record in the project code page followed by its UTF-16 twin (used for names and docs)."""
    return _record(record_id, text.encode(ENCODING)) + _record(unicode_id, text.encode("utf-16-le"))


def dir_stream(project: Project) -> bytes:
    """2.3.4.2 dir stream, uncompressed: information, references, modules, terminator."""
    out = bytearray()
    # PROJECTINFORMATION
    out += _record(0x0001, struct.pack("<I", SYSKIND_WIN64))       # PROJECTSYSKIND
    out += _record(0x0002, struct.pack("<I", LCID))                # PROJECTLCID
    out += _record(0x0014, struct.pack("<I", LCID))                # PROJECTLCIDINVOKE
    out += _record(0x0003, struct.pack("<H", CODE_PAGE))           # PROJECTCODEPAGE
    out += _record(0x0004, project.name.encode(ENCODING))          # PROJECTNAME
    out += _text_records(0x0005, 0x0040, "")                        # PROJECTDOCSTRING
    out += _text_records(0x0006, 0x003D, "")                        # PROJECTHELPFILEPATH (two copies)
    out += _record(0x0007, struct.pack("<I", 0))                   # PROJECTHELPCONTEXT
    out += _record(0x0008, struct.pack("<I", 0))                   # PROJECTLIBFLAGS
    out += struct.pack("<HIIH", 0x0009, 4, 1, 0)                   # PROJECTVERSION (fixed layout)
    out += _text_records(0x000C, 0x003C, "")                        # PROJECTCONSTANTS
    # PROJECTREFERENCES
    for name, libid in project.references:
        out += _text_records(0x0016, 0x003E, name)                  # REFERENCENAME
        libid_bytes = libid.encode(ENCODING)
        registered = struct.pack("<I", len(libid_bytes)) + libid_bytes + struct.pack("<IH", 0, 0)
        out += _record(0x000D, registered)                          # REFERENCEREGISTERED
    # PROJECTMODULES
    out += _record(0x000F, struct.pack("<H", len(project.modules)))
    out += _record(0x0013, struct.pack("<H", 0xFFFF))               # PROJECTCOOKIE
    for module in project.modules:
        out += _record(0x0019, module.name.encode(ENCODING))        # MODULENAME
        out += _record(0x0047, module.name.encode("utf-16-le"))     # MODULENAMEUNICODE
        out += _text_records(0x001A, 0x0032, module.name)           # MODULESTREAMNAME
        out += _text_records(0x001C, 0x0048, "")                    # MODULEDOCSTRING
        out += _record(0x0031, struct.pack("<I", 0))                # MODULEOFFSET: source only
        out += _record(0x001E, struct.pack("<I", 0))                # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))           # MODULECOOKIE
        type_id = 0x0021 if module.kind == MODULE_PROCEDURAL else 0x0022
        out += struct.pack("<HI", type_id, 0)                       # MODULETYPE
        out += struct.pack("<HI", 0x002B, 0)                        # module terminator
    out += struct.pack("<HI", 0x0010, 0)                            # dir terminator
    return bytes(out)


def project_stream(project: Project) -> bytes:
    """2.3.1 PROJECT stream: module list, name, protection fields, host extender."""
    rng = random.Random(project.seed)
    protection = encrypt(struct.pack("<I", 0), project.project_id, rng)  # not protected
    password = encrypt(b"\x00", project.project_id, rng)                 # no password
    visibility = encrypt(b"\xff", project.project_id, rng)               # visible
    lines = [f'ID="{project.project_id}"']
    for module in project.modules:
        if module.kind == MODULE_DOCUMENT:
            lines.append(f"Document={module.name}/&H00000000")
        else:
            lines.append(f"Module={module.name}")
    lines += [
        f'Name="{project.name}"',
        'HelpContextID="0"',
        'VersionCompatible32="393222000"',
        f'CMG="{protection}"',
        f'DPB="{password}"',
        f'GC="{visibility}"',
        "",
        "[Host Extender Info]",
        HOST_EXTENDER,
        "",
    ]
    return "\r\n".join(lines).encode(ENCODING)


def project_wm_stream(project: Project) -> bytes:
    """2.3.3 PROJECTwm: each module name in MBCS and UTF-16, then a 0x0000 terminator."""
    out = bytearray()
    for module in project.modules:
        out += module.name.encode(ENCODING) + b"\x00" + module.name.encode("utf-16-le") + b"\x00\x00"
    return bytes(out + b"\x00\x00")


def build_vba_project(project: Project) -> bytes:
    """The complete `vbaProject.bin` (a CFB file) for `project`."""
    _validate(project)
    streams = {
        "PROJECT": project_stream(project),
        "PROJECTwm": project_wm_stream(project),
        "VBA/_VBA_PROJECT": vba_project_stream(),
        "VBA/dir": compress(dir_stream(project)),
    }
    for module in project.modules:
        streams[f"VBA/{module.name}"] = compress(module.encoded_source())
    return write_compound_file(streams)


def _validate(project: Project) -> None:
    names = [m.name for m in project.modules]
    if len({n.upper() for n in names}) != len(names):
        raise ValueError("duplicate module names")
    for module in project.modules:
        if not _IDENTIFIER.match(module.name) or module.name.upper() in {"DIR", "_VBA_PROJECT"}:
            raise ValueError(f"invalid module name: {module.name!r}")
        if module.kind not in (MODULE_PROCEDURAL, MODULE_DOCUMENT):
            raise ValueError(f"unknown module kind: {module.kind!r}")
        first = module.source.lstrip("\ufeff").splitlines()[0] if module.source else ""
        if first != f'Attribute VB_Name = "{module.name}"':
            raise ValueError(f"module {module.name} must start with its VB_Name attribute")
        module.encoded_source()  # raises UnicodeEncodeError for text outside code page 1252
    if not re.fullmatch(r"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", project.project_id):
        raise ValueError("project id must be an upper-case {GUID}")
    if not _IDENTIFIER.match(project.name):
        raise ValueError("invalid project name")
