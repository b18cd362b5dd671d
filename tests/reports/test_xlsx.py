"""The streaming XLSX writer (reports.xlsx): package structure, sheet order, cell types and escaping.

Read back with the standard library's zip and XML parsers, as a spreadsheet program reads the parts.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from reports.xlsx import MAX_CELL_CHARS, Workbook, column_name

NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/package/2006/relationships",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
}
REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def read(path: Path) -> dict[str, list[list[tuple[str, Any, str | None]]]]:
    """{sheet name: rows of (cell ref, value, style)} in workbook order, following the relationships."""
    with zipfile.ZipFile(path) as z:
        parts = {name: ET.fromstring(z.read(name)) for name in z.namelist()}  # each part well-formed XML
    overrides = {o.get("PartName") for o in parts["[Content_Types].xml"].findall("ct:Override", NS)}
    rels = {
        r.get("Id"): r.get("Target")
        for r in parts["xl/_rels/workbook.xml.rels"].findall("r:Relationship", NS)
    }
    root = parts["_rels/.rels"].find("r:Relationship", NS)
    assert root is not None and root.get("Target") == "xl/workbook.xml"
    out: dict[str, list[list[tuple[str, Any, str | None]]]] = {}
    for sheet in parts["xl/workbook.xml"].findall("m:sheets/m:sheet", NS):
        part = f"xl/{rels[sheet.get(REL_ID)]}"
        assert f"/{part}" in overrides
        rows = []
        for row in parts[part].findall("m:sheetData/m:row", NS):
            cells: list[tuple[str, Any, str | None]] = []
            for c in row.findall("m:c", NS):
                if c.get("t") == "inlineStr":
                    value: Any = c.findtext("m:is/m:t", namespaces=NS)
                else:
                    value = float(c.findtext("m:v", namespaces=NS) or "nan")
                cells.append((str(c.get("r")), value, c.get("s")))
            rows.append(cells)
        out[str(sheet.get("name"))] = rows
    return out


def test_column_names() -> None:
    assert [column_name(i) for i in (0, 11, 25, 26, 27, 701, 702)] == ["A", "L", "Z", "AA", "AB", "ZZ", "AAA"]


def test_sheets_appear_in_their_position_whatever_order_they_are_written_in(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = Workbook(str(path))
    detail = book.sheet("Detalle", ["Tipo", "Código"], position=1)
    detail.add(["Atención", "ATN-1"])
    summary = book.sheet("Resumen", ["Título"], width=30, position=0)  # written last, listed first
    summary.add(["Periodo"])
    book.close()
    sheets = read(path)
    assert list(sheets) == ["Resumen", "Detalle"]
    assert sheets["Detalle"] == [
        [("A1", "Tipo", "1"), ("B1", "Código", "1")],  # the header is bold (cell format 1)
        [("A2", "Atención", None), ("B2", "ATN-1", None)],
    ]
    with zipfile.ZipFile(path) as z:  # parts numbered as listed (sheet2 is the detail)
        assert "ATN-1" in z.read("xl/worksheets/sheet2.xml").decode()


def test_values_keep_their_type_and_text_is_escaped_never_a_formula(tmp_path: Path) -> None:
    path = tmp_path / "values.xlsx"
    book = Workbook(str(path))
    sheet = book.sheet("Datos", ["a", "b", "c", "d", "e", "f", "g"])
    sheet.add(['=HYPERLINK("http://x")', 3, 2.5, "", None, 'a & b <c> "d"', " espacios "])
    sheet.add(["control\x01\x1fcaracteres", "x" * (MAX_CELL_CHARS + 10)])
    book.close()
    _, first, second = read(path)["Datos"]
    assert first == [
        ("A2", '=HYPERLINK("http://x")', None),  # text, not a formula
        ("B2", 3.0, None),
        ("C2", 2.5, None),
        # D2 and E2 (empty) are left out
        ("F2", 'a & b <c> "d"', None),
        ("G2", " espacios ", None),  # leading and trailing spaces kept (xml:space="preserve")
    ]
    assert second[0] == ("A3", "control_x0001__x001F_caracteres", None)  # Excel's escape
    assert len(second[1][1]) == MAX_CELL_CHARS


def test_a_spreadsheet_library_reads_the_workbook_back(tmp_path: Path) -> None:
    """openpyxl, an independent reader of the format, opens the file and sees the same sheets, values and
    types (the structural checks above read it with this module's own idea of the format)."""
    import openpyxl

    path = tmp_path / "read-back.xlsx"
    book = Workbook(str(path))
    summary = book.sheet("Resumen", ["Figura", "Valor"])
    summary.add(["Atenciones abiertas", 12])
    summary.add(["Cumplimiento", 0.75])
    detail = book.sheet("Detalle", ["Código", "Asunto", "Días"])
    detail.add(["ATN-2026-000001", "=1+1 no es fórmula", 3])
    detail.add(["ATN-2026-000002", 'a & b <c> "d"', None])
    book.close()
    workbook = openpyxl.load_workbook(path, read_only=True)
    assert workbook.sheetnames == ["Resumen", "Detalle"]
    rows = {
        name: [list(r) for r in workbook[name].iter_rows(values_only=True)] for name in workbook.sheetnames
    }
    assert rows["Resumen"] == [["Figura", "Valor"], ["Atenciones abiertas", 12], ["Cumplimiento", 0.75]]
    assert rows["Detalle"][1] == ["ATN-2026-000001", "=1+1 no es fórmula", 3]
    assert rows["Detalle"][2][:2] == ["ATN-2026-000002", 'a & b <c> "d"']
