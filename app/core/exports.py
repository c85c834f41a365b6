"""xlsx exports of working lists (openpyxl), streamed as a download."""
from __future__ import annotations

import io
from datetime import date, datetime

from flask import Response
from openpyxl import Workbook
from openpyxl.styles import Font


def xlsx_bytes(title: str, header: list[str], rows: list[list]) -> bytes:
    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = title[:31]
    ws.append(header)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([v.strftime("%Y-%m-%d") if isinstance(v, date) and not isinstance(v, datetime)
                   else v for v in row])
    ws.freeze_panes = "A2"
    for column, name in zip(ws.columns, header):
        width = max([len(str(name))] + [len(str(c.value or "")) for c in list(column)[:200]])
        ws.column_dimensions[column[0].column_letter].width = min(40, width * 1.6 + 2)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def xlsx_response(title: str, header: list[str], rows: list[list], filename: str) -> Response:
    return Response(
        xlsx_bytes(title, header, rows),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )
