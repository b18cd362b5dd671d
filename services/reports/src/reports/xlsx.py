"""A streaming XLSX writer: each row goes straight into its sheet's compressed entry of the zip file.

Why not xlsxwriter (which the exports used first): its per-cell Python work is about 10 µs, so the
100,000 x 12 cells of a big subject export took 12-16 s in xlsxwriter alone on the benchmark machine, over
the 10 s target; this writer formats a whole row with one join (about 1 µs a cell). It writes only what the
reports need: sheets of strings and numbers, a bold header row, one column width, inline strings (no shared
strings table, so memory stays bounded), every string as text (a value starting with "=" stays text: no
formula injection). The package is the minimal SpreadsheetML one (ECMA-376): content types, relationships,
workbook, styles, sheets.

One sheet is open at a time (a zip entry is written sequentially), but sheets may be written in any order:
``position`` decides where each appears in the workbook (the subject export writes its detail first and its
summary, which needs every row, last, as the first sheet).
"""

from __future__ import annotations

import contextlib
import re
import zipfile
from collections.abc import Sequence
from datetime import date
from typing import IO, Any
from xml.sax.saxutils import quoteattr

MAX_CELL_CHARS = 32_767  # Excel refuses longer cells
_NOT_XML = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"  # characters XML 1.0 cannot carry
_CONTROL = re.compile(f"[{_NOT_XML}]")
# A string that can be written as it is: no markup character, no character XML cannot carry, no
# whitespace at either end (one regex test per cell; the rest take the slow path).
_SPECIAL = f"&<>{_NOT_XML}\t\n\r"
_PLAIN = re.compile(f"[^{_SPECIAL}\\s](?:[^{_SPECIAL}]*[^{_SPECIAL}\\s])?")


def column_name(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _text(value: str) -> str:
    if len(value) > MAX_CELL_CHARS:
        value = value[:MAX_CELL_CHARS]
    if "&" in value or "<" in value or ">" in value:
        value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if _CONTROL.search(value):  # Excel's escape for characters XML cannot carry
        value = _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return value


def _cell(ref: str, value: Any, style: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        value = "Sí" if value else "No"
    elif isinstance(value, int | float):
        return f'<c r="{ref}"{style}><v>{value!r}</v></c>'
    elif isinstance(value, date):
        value = value.isoformat()
    text = _text(str(value))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


class Sheet:
    """Rows of one sheet, written as they come. The first row (the header) is bold."""

    FLUSH_ROWS = 500

    def __init__(self, entry: IO[bytes], header: Sequence[str], width: float) -> None:
        self._entry = entry
        self._rows = 0
        self._buffer: list[str] = []
        self._columns: list[str] = []
        self._entry.write(
            b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + (
                f'<cols><col min="1" max="{max(1, len(header))}" width="{width}" customWidth="1"/></cols>'
                if header
                else ""
            ).encode()
            + b"<sheetData>"
        )
        if header:
            self._write(header, ' s="1"')

    def add(self, values: Sequence[Any]) -> None:
        self._write(values, "")

    def _write(self, values: Sequence[Any], style: str) -> None:
        self._rows += 1
        n = str(self._rows)
        while len(self._columns) < len(values):
            self._columns.append(column_name(len(self._columns)))
        plain = _PLAIN.fullmatch
        cells = "".join(
            [
                f'<c r="{col}{n}"{style} t="inlineStr"><is><t>{v}</t></is></c>'
                if v.__class__ is str and len(v) <= MAX_CELL_CHARS and plain(v)
                else _cell(col + n, v, style)
                for col, v in zip(self._columns, values, strict=False)
            ]
        )
        self._buffer.append(f'<row r="{n}">{cells}</row>')
        if len(self._buffer) >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        self._entry.write("".join(self._buffer).encode())
        self._buffer.clear()

    def close(self) -> None:
        self._flush()
        self._entry.write(b"</sheetData></worksheet>")
        self._entry.close()


class Workbook:
    def __init__(self, path: str, compresslevel: int = 1) -> None:
        # Level 1: the sheets are repetitive XML, so the file is only ~1.5x the size of level 6 in a third of
        # the time.
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._sheets: list[tuple[int, str, str]] = []  # (position, name, part)
        self._open: Sheet | None = None

    def sheet(
        self, name: str, header: Sequence[str], width: float = 18, position: int | None = None
    ) -> Sheet:
        if self._open is not None:
            self._open.close()
        position = len(self._sheets) if position is None else position
        assert position not in {p for p, _, _ in self._sheets}
        part = f"sheet{position + 1}.xml"  # numbered as the workbook lists them, as spreadsheet programs do
        self._sheets.append((position, name[:31], part))
        self._open = Sheet(self._zip.open(f"xl/worksheets/{part}", "w"), header, width)
        return self._open

    def close(self) -> None:
        if self._open is not None:
            self._open.close()
            self._open = None
        ordered = sorted(self._sheets)
        sheets = "".join(
            f'<sheet name={quoteattr(name)} sheetId="{i + 1}" r:id="rId{i + 1}"/>'
            for i, (_, name, _) in enumerate(ordered)
        )
        rels = "".join(
            f'<Relationship Id="rId{i + 1}" Type="{_REL}/worksheet" Target="worksheets/{part}"/>'
            for i, (_, _, part) in enumerate(ordered)
        )
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/{part}" ContentType="{_CT}.worksheet+xml"/>'
            for _, _, part in ordered
        )
        styles_id = len(ordered) + 1
        parts = {
            "[Content_Types].xml": (
                '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
                '+xml"/>'
                '<Default Extension="xml" ContentType="application/xml"/>'
                f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
                f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
                f"{overrides}</Types>"
            ),
            "_rels/.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
                "</Relationships>"
            ),
            "xl/workbook.xml": (
                '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                f"<sheets>{sheets}</sheets></workbook>"
            ),
            "xl/_rels/workbook.xml.rels": (
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                f'{rels}<Relationship Id="rId{styles_id}" Type="{_REL}/styles" Target="styles.xml"/>'
                "</Relationships>"
            ),
            "xl/styles.xml": _STYLES,
        }
        for name, xml in parts.items():
            self._zip.writestr(name, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + xml)
        self._zip.close()

    def abort(self) -> None:
        """Close the file after a failure, whatever state it is in (the caller deletes it)."""
        with contextlib.suppress(Exception):
            if self._open is not None:
                self._open.close()
        self._open = None
        with contextlib.suppress(Exception):
            self._zip.close()


_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
# Two cell formats: 0 the default, 1 bold (the header row).
_STYLES = (
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
