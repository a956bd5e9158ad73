"""The macro parts of an `.xlsm` package: VBA project and ribbon, added to an openpyxl-written file.

openpyxl writes the sheets; this module adds `xl/vbaProject.bin` and `customUI/customUI.xml`, the
relationships and content types that make them count, and rewrites the zip deterministically:
fixed member order, fixed timestamps, fixed document dates. `preserve_macro_parts` re-inserts the
parts if a later openpyxl save dropped them.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.sax.saxutils import quoteattr

CONTENT_TYPES = "[Content_Types].xml"
ROOT_RELS = "_rels/.rels"
WORKBOOK = "xl/workbook.xml"
WORKBOOK_RELS = "xl/_rels/workbook.xml.rels"
VBA_PART = "xl/vbaProject.bin"
CUSTOM_UI_PART = "customUI/customUI.xml"
CORE_PROPS = "docProps/core.xml"

CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
VBA_CONTENT_TYPE = "application/vnd.ms-office.vbaProject"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
CUSTOM_UI_REL = "http://schemas.microsoft.com/office/2006/relationships/ui/extensibility"

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DOC_DATE = "2024-01-01T00:00:00Z"

# Members that lead the archive, in this order; the rest follow by natural name order.
_LEADING = (CONTENT_TYPES, ROOT_RELS, "docProps/app.xml", CORE_PROPS, CUSTOM_UI_PART, WORKBOOK, WORKBOOK_RELS)


def add_macro_parts(xlsx: bytes, vba_project: bytes, custom_ui: bytes) -> bytes:
    """Turn an openpyxl-written workbook into a macro-enabled one with a ribbon; deterministic."""
    members = _read_members(xlsx)
    members[VBA_PART] = vba_project
    members[CUSTOM_UI_PART] = custom_ui
    members[CONTENT_TYPES] = _content_types(members[CONTENT_TYPES])
    members[WORKBOOK_RELS] = _with_relationship(members[WORKBOOK_RELS], VBA_REL, "vbaProject.bin", "xl/")
    members[ROOT_RELS] = _with_relationship(members[ROOT_RELS], CUSTOM_UI_REL, CUSTOM_UI_PART)
    if CORE_PROPS in members:
        members[CORE_PROPS] = _fixed_dates(members[CORE_PROPS])
    return write_zip(members)


def preserve_macro_parts(src: str | Path, dst: str | Path) -> bool:
    """After an openpyxl save of `src` into `dst`, put back the VBA project and ribbon if lost.

    openpyxl (`keep_vba=True`) keeps both today; this guards against a version that does not.
    It also gives back their code name to sheets that were deleted and re-created under the same
    name (openpyxl drops it), so that each sheet stays bound to its VBA document module.
    Returns True when `dst` had to be repaired. Other members of `dst` are kept as they are.
    """
    source = _read_members(Path(src).read_bytes())
    target_bytes = Path(dst).read_bytes()
    target = _read_members(target_bytes)
    repaired = False
    for part, rel_file, rel_type, rel_target, base in (
        (VBA_PART, WORKBOOK_RELS, VBA_REL, "vbaProject.bin", "xl/"),
        (CUSTOM_UI_PART, ROOT_RELS, CUSTOM_UI_REL, CUSTOM_UI_PART, ""),
    ):
        if part not in source:
            continue
        if target.get(part) != source[part]:
            target[part] = source[part]
            repaired = True
        fixed_rels = _with_relationship(target[rel_file], rel_type, rel_target, base)
        if fixed_rels != target[rel_file]:
            target[rel_file] = fixed_rels
            repaired = True
    if VBA_PART in source and not _declares_macros(target[CONTENT_TYPES]):
        target[CONTENT_TYPES] = _content_types(target[CONTENT_TYPES])
        repaired = True
    if VBA_PART in source:
        repaired |= _restore_code_names(source, target)
    if repaired:
        tmp = Path(dst).with_name(Path(dst).name + ".tmp")
        tmp.write_bytes(write_zip(target))
        tmp.replace(dst)
    return repaired


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
OFFICE_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_SHEET_PR = re.compile(rb"<(?:\w+:)?sheetPr\b[^>]*?(/?)>")
_CODE_NAME = re.compile(rb'\bcodeName="([^"]*)"')


def _sheet_parts(members: dict[str, bytes]) -> dict[str, str]:
    """Sheet name -> zip member of its worksheet XML."""
    workbook = ET.fromstring(members[WORKBOOK])
    rels = ET.fromstring(members[WORKBOOK_RELS])
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{{{REL_NS}}}Relationship")}
    parts = {}
    for sheet in workbook.iter(f"{{{SHEET_NS}}}sheet"):
        target = targets.get(sheet.get(f"{{{OFFICE_REL_NS}}}id"), "")
        path = target[1:] if target.startswith("/") else posixpath.normpath("xl/" + target)
        if path in members:
            parts[sheet.get("name")] = path
    return parts


def _code_name(sheet_xml: bytes) -> str | None:
    match = _SHEET_PR.search(sheet_xml)
    found = _CODE_NAME.search(match.group(0)) if match else None
    return found.group(1).decode("utf-8") if found else None


def _with_code_name(sheet_xml: bytes, code_name: str) -> bytes:
    attribute = f' codeName="{code_name}"'.encode()
    match = _SHEET_PR.search(sheet_xml)
    if match:  # add the attribute to the existing <sheetPr>
        tag = match.group(0)
        cut = len(tag) - (2 if tag.endswith(b"/>") else 1)
        return sheet_xml[:match.start()] + tag[:cut] + attribute + tag[cut:] + sheet_xml[match.end():]
    root = re.search(rb"<(?:\w+:)?worksheet\b[^>]*>", sheet_xml)  # sheetPr is the first child
    prefix = re.match(rb"<(\w+:)?worksheet", root.group(0)).group(1) or b""
    element = b"<" + prefix + b"sheetPr" + attribute + b"/>"
    return sheet_xml[:root.end()] + element + sheet_xml[root.end():]


def _restore_code_names(source: dict[str, bytes], target: dict[str, bytes]) -> bool:
    """Give a sheet of `target` the code name its namesake has in `source`, when it has none."""
    old_parts, new_parts = _sheet_parts(source), _sheet_parts(target)
    changed = False
    for name, part in new_parts.items():
        wanted = _code_name(source[old_parts[name]]) if name in old_parts else None
        if wanted and _code_name(target[part]) is None:
            target[part] = _with_code_name(target[part], wanted)
            changed = True
    return changed


def write_zip(members: dict[str, bytes]) -> bytes:
    """A zip with members in a fixed order and fixed metadata, so equal input gives equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members, key=_member_order):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0
            info.external_attr = 0
            archive.writestr(info, members[name], compresslevel=6)
    return buffer.getvalue()


def _member_order(name: str) -> tuple[int, list[object]]:
    if name in _LEADING:
        return (_LEADING.index(name), [])
    if name == VBA_PART:
        return (len(_LEADING) + 1, [])
    natural = [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    return (len(_LEADING), natural)


def _read_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _content_types(xml: bytes) -> bytes:
    """Workbook as macro-enabled, `.bin` as VBA project; entries sorted for a stable result."""
    root = ET.fromstring(xml)
    defaults = {e.get("Extension").lower(): e.get("ContentType") for e in root.iter(f"{{{CT_NS}}}Default")}
    overrides = {e.get("PartName"): e.get("ContentType") for e in root.iter(f"{{{CT_NS}}}Override")}
    defaults["bin"] = VBA_CONTENT_TYPE
    defaults.setdefault("xml", "application/xml")
    overrides["/" + WORKBOOK] = XLSM_MAIN
    overrides.pop("/" + VBA_PART, None)  # covered by the Default
    out = ET.Element(f"{{{CT_NS}}}Types")
    for extension in sorted(defaults):
        ET.SubElement(out, f"{{{CT_NS}}}Default", Extension=extension, ContentType=defaults[extension])
    for part in sorted(overrides, key=_member_order_from_part):
        ET.SubElement(out, f"{{{CT_NS}}}Override", PartName=part, ContentType=overrides[part])
    return _serialise(out, CT_NS)


def _declares_macros(xml: bytes) -> bool:
    """True when the workbook is typed macro-enabled and the VBA part has its content type."""
    root = ET.fromstring(xml)
    defaults = {e.get("Extension").lower(): e.get("ContentType") for e in root.iter(f"{{{CT_NS}}}Default")}
    overrides = {e.get("PartName"): e.get("ContentType") for e in root.iter(f"{{{CT_NS}}}Override")}
    vba_typed = overrides.get("/" + VBA_PART, defaults.get("bin")) == VBA_CONTENT_TYPE
    return overrides.get("/" + WORKBOOK) == XLSM_MAIN and vba_typed


def _member_order_from_part(part: str) -> tuple[int, list[object]]:
    return _member_order(part.lstrip("/"))


def _with_relationship(xml: bytes, rel_type: str, target: str, base: str = "") -> bytes:
    """Add a relationship of `rel_type` to `target` unless one exists; ids stay unique.

    `base` is the folder of the part the relationships belong to ("xl/" for the workbook);
    existing targets are compared as package paths, relative or absolute.
    """
    root = ET.fromstring(xml)
    relationships = list(root.iter(f"{{{REL_NS}}}Relationship"))
    wanted = posixpath.normpath(base + target)

    def resolved(value: str) -> str:
        return posixpath.normpath(value[1:] if value.startswith("/") else base + value)

    if any(r.get("Type") == rel_type and resolved(r.get("Target", "")) == wanted for r in relationships):
        return xml
    used = {r.get("Id") for r in relationships}
    number = len(relationships) + 1
    while f"rId{number}" in used:
        number += 1
    ET.SubElement(root, f"{{{REL_NS}}}Relationship", Id=f"rId{number}", Type=rel_type, Target=target)
    return _serialise(root, REL_NS)


def _fixed_dates(xml: bytes) -> bytes:
    """openpyxl stamps the save time into core.xml; a template carries fixed dates instead."""
    text = xml.decode("utf-8")
    for tag in ("dcterms:created", "dcterms:modified"):
        text = re.sub(rf"(<{tag}\b[^>]*>)[^<]*(</{tag}>)", rf"\g<1>{FIXED_DOC_DATE}\g<2>", text)
    return text.encode("utf-8")


def _serialise(root: ET.Element, default_ns: str) -> bytes:
    """Write a flat OPC part (Types or Relationships) with `default_ns` as default namespace.

    Written by hand: ElementTree cannot put unprefixed attributes under a default namespace.
    """
    def tag(element: ET.Element) -> str:
        return element.tag.split("}", 1)[1]

    def attributes(element: ET.Element) -> str:
        return "".join(f" {name}={quoteattr(value)}" for name, value in element.attrib.items())

    children = "".join(f"<{tag(child)}{attributes(child)}/>" for child in root)
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f"<{tag(root)} xmlns={quoteattr(default_ns)}>{children}</{tag(root)}>"
    ).encode()
