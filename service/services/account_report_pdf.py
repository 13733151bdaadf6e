"""The PDF of a business account's monthly report, charts drawn on the server (ReportLab).

All text is set in STSong-Light, one of the CID fonts every PDF reader provides (Adobe's
Asian font packs, built into Acrobat, pdf.js, Chrome, macOS Preview and Poppler): it carries
Chinese and Latin glyphs, so a Chinese company name prints in an English report too, with no
font file shipped or embedded. The document is built with `invariant` set, so the same figures
give the same bytes (and checksum).
"""

import functools
import io
from decimal import Decimal
from html import escape as html_escape
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from callcenter.choices import AccountRole, TicketKind


def escape(text: str) -> str:
    """Text as Paragraph markup: &, < and > escaped (quotes are plain text there)."""
    return html_escape(text, quote=False)


FONT = "STSong-Light"
PALETTE = ("#2563eb", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2")


@functools.cache
def _font() -> str:
    """Register the CID font once per process."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def figure_label(key: str, language: str) -> str:
    """The label an admin gave a custom-attribute figure, in `language` (the key when none)."""
    for figure in settings.ACCOUNT_REPORT_FIGURES:
        if figure.get("key") == key:
            suffix = language.replace("-", "_")
            return str(figure.get(f"label_{suffix}") or figure.get("label") or key)
    return key


def role_label(role: str) -> str:
    return str(AccountRole(role).label) if role in AccountRole.values else "-"


def kind_label(kind: str) -> str:
    return str(TicketKind(kind).label) if kind in TicketKind.values else kind


def percent_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=18, leading=24),
        "subtitle": ParagraphStyle(
            "subtitle", fontName=font, fontSize=10, leading=14, textColor=colors.grey
        ),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=8),
        "body": ParagraphStyle("body", fontName=font, fontSize=10, leading=14),
    }


def _table(rows: list[list[str]], widths: list[float]) -> Table:
    table = Table(rows, colWidths=widths, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), _font()),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2ff")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cbd5e1")),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def _orders_chart(points: list[dict[str, Any]]) -> Drawing:
    """Order amount per month, a bar per month."""
    drawing = Drawing(170 * mm, 60 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 15 * mm, 10 * mm, 150 * mm, 45 * mm
    chart.data = [[float(Decimal(point["amount"])) for point in points]]
    chart.categoryAxis.categoryNames = [point["month"][2:] for point in points]
    chart.categoryAxis.labels.fontName = _font()
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = _font()
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor(PALETTE[0])
    drawing.add(chart)
    return drawing


def _tickets_chart(by_kind: list[dict[str, Any]]) -> Drawing | None:
    """Tickets opened in the month by kind, a pie with a legend of labels."""
    opened = [row for row in by_kind if row["opened"]]
    if not opened:
        return None
    drawing = Drawing(170 * mm, 45 * mm)
    pie = Pie()
    pie.x, pie.y, pie.width, pie.height = 10 * mm, 3 * mm, 38 * mm, 38 * mm
    pie.data = [row["opened"] for row in opened]
    pie.simpleLabels = 1
    pie.labels = None
    for index in range(len(opened)):
        pie.slices[index].fillColor = colors.HexColor(PALETTE[index % len(PALETTE)])
    drawing.add(pie)
    for index, row in enumerate(opened):
        y = 38 * mm - index * 7 * mm
        drawing.add(
            String(
                60 * mm,
                y,
                f"{kind_label(row['kind'])}: {row['opened']}",
                fontName=_font(),
                fontSize=10,
                fillColor=colors.HexColor(PALETTE[index % len(PALETTE)]),
            )
        )
    return drawing


def account_report_pdf(data: dict[str, Any], *, language: str) -> bytes:
    """The report of `data` (account_reports_data's shape) as a PDF, in `language`."""
    with translation.override(language):
        return _build(data, language)


def _build(data: dict[str, Any], language: str) -> bytes:
    styles = _styles()
    account = data["account"]
    orders = data["orders"]
    tickets = data["tickets"]
    title = account["company_name"] or account["name"]
    story: list[Any] = [
        Paragraph(escape(_("Monthly report: %(account)s") % {"account": title}), styles["title"]),
        Paragraph(
            escape(
                _("%(month)s · industry %(industry)s · advisor %(advisor)s")
                % {
                    "month": data["month"],
                    "industry": account["industry"] or "-",
                    "advisor": account["advisor"] or "-",
                }
            ),
            styles["subtitle"],
        ),
        Spacer(1, 4 * mm),
        Paragraph(escape(_("Orders")), styles["h2"]),
        _table(
            [
                [_("Orders"), _("Count"), _("Amount")],
                [_("Total"), str(orders["count"]), orders["amount"]],
                [_("The account itself"), str(orders["own_count"]), orders["own_amount"]],
                [_("Its contacts"), str(orders["contacts_count"]), orders["contacts_amount"]],
            ],
            [70 * mm, 30 * mm, 40 * mm],
        ),
        Spacer(1, 2 * mm),
        Paragraph(escape(_("Order amount by month")), styles["body"]),
        _orders_chart(orders["by_month"]),
    ]
    if orders["categories"]:
        story += [
            Paragraph(escape(_("Top categories")), styles["h2"]),
            _table(
                [[_("Category"), _("Count"), _("Amount")]]
                + [
                    [row["category"] or _("(none)"), str(row["count"]), row["amount"]]
                    for row in orders["categories"]
                ],
                [70 * mm, 30 * mm, 40 * mm],
            ),
        ]
    story += [
        Paragraph(escape(_("Service level")), styles["h2"]),
        _table(
            [
                [_("Tickets"), _("Value")],
                [_("Opened"), str(tickets["opened"])],
                [_("Resolved"), str(tickets["resolved"])],
                [_("First response on time"), percent_text(tickets["first_response"]["percent"])],
                [_("Resolution on time"), percent_text(tickets["resolution"]["percent"])],
            ],
            [70 * mm, 40 * mm],
        ),
    ]
    chart = _tickets_chart(tickets["by_kind"])
    if chart is not None:
        story += [Paragraph(escape(_("Tickets by kind")), styles["body"]), chart]
    figures = [figure for figure in data["figures"] if figure["value"] is not None]
    if figures:
        story += [
            Paragraph(escape(_("Key figures")), styles["h2"]),
            _table(
                [[_("Figure"), _("Value")]]
                + [[figure_label(f["key"], language), str(f["value"])] for f in figures],
                [70 * mm, 40 * mm],
            ),
        ]
    if data["contacts"]:
        story += [
            Paragraph(escape(_("Contacts")), styles["h2"]),
            _table(
                [[_("Name"), _("Role")]]
                + [[row["name"], role_label(row["role"])] for row in data["contacts"]],
                [70 * mm, 40 * mm],
            ),
        ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=_("Monthly report: %(account)s") % {"account": title},
        author="",
        invariant=1,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
    )
    document.build(story)
    return buffer.getvalue()
