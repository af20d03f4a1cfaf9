"""The evidence report as a PDF, drawn with ReportLab: embedded TrueType fonts, selectable text,
the review timeline as a ReportLab line chart, "page N of M" and the report id on every page.

The fonts are DejaVu Sans and DejaVu Sans Mono from Debian's fonts-dejavu-core (the Makefile
installs it): embedded as subsets, so the file reads the same everywhere and names in any Latin,
Greek or Cyrillic script print. Nothing is fetched at run time. ReportLab's own errors (a missing
or unreadable font file) are mapped to ConfigError here, its one boundary.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from services.errors import ConfigError
from services.evidence.model import (
    AuditRow,
    EvidenceRecord,
    Party,
    ReviewPoint,
    SignatureFacts,
    SubmissionFacts,
)
from services.evidence.ports import RenderedReport
from services.evidence.wording import utc

DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
SANS, SANS_BOLD, MONO = "EvidenceSans", "EvidenceSans-Bold", "EvidenceMono"
_FONT_FILES = {SANS: "DejaVuSans.ttf", SANS_BOLD: "DejaVuSans-Bold.ttf", MONO: "DejaVuSansMono.ttf"}
_FONTS_LOCK = threading.Lock()

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 16 * mm
BODY_WIDTH = PAGE_WIDTH - 2 * MARGIN
GREY = colors.HexColor("#5f6b7a")
RULE = colors.HexColor("#c9d1db")
SHADE = colors.HexColor("#eef2f6")
INK = colors.HexColor("#1f2933")
ACCENT = colors.HexColor("#1d5fa8")

# The order the timeline chart stacks the review states in, bottom to top.
STATE_ORDER = (
    "submitted",
    "open",
    "in_review",
    "partially_approved",
    "all_approved",
    "has_rejections",
    "stale",
    "archived",
    "deleted",
)


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    body: ParagraphStyle
    small: ParagraphStyle
    cell: ParagraphStyle
    label: ParagraphStyle
    mono: ParagraphStyle


def _styles() -> _Styles:
    body = ParagraphStyle("body", fontName=SANS, fontSize=9, leading=12, textColor=INK)
    return _Styles(
        title=ParagraphStyle("title", parent=body, fontName=SANS_BOLD, fontSize=16, leading=20),
        heading=ParagraphStyle(
            "heading",
            parent=body,
            fontName=SANS_BOLD,
            fontSize=11.5,
            leading=15,
            spaceBefore=10,
            spaceAfter=4,
            keepWithNext=1,
            textColor=ACCENT,
        ),
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor=GREY),
        cell=ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        label=ParagraphStyle("label", parent=body, fontName=SANS_BOLD, fontSize=8, leading=10),
        mono=ParagraphStyle("mono", parent=body, fontName=MONO, fontSize=7, leading=9),
    )


class PdfEvidenceRenderer:
    """`ReportRenderer` for PDF. Safe to call from several threads at once."""

    def __init__(self, font_dir: Path = DEBIAN_DEJAVU) -> None:
        self._font_dir = font_dir

    def render(self, record: EvidenceRecord) -> RenderedReport:
        self._register_fonts()
        styles = _styles()
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + 8 * mm,
            bottomMargin=MARGIN + 6 * mm,
            title=f"Signature evidence report {record.report_id} for {record.request.id}",
            author="approvals-bot",
            subject=f"{record.report_id} {record.request.id}",
            keywords=[record.report_id, record.request.id, "evidence"],
            creator="approvals-bot",
            invariant=False,  # CreationDate is the real time (invariant would print 2000-01-01)
        )
        pages: list[int] = []
        doc.build(_story(record, styles), canvasmaker=_numbered_canvas(record, pages))
        return RenderedReport(content=buffer.getvalue(), pages=pages[0])

    def ready(self) -> str:
        self._register_fonts()
        return f"PDF with ReportLab, DejaVu fonts from {self._font_dir}"

    def _register_fonts(self) -> None:
        """Register the fonts once per process (ReportLab's registry is global); a font file
        that is missing now is reported even if it was registered before."""
        with _FONTS_LOCK:
            registered = set(pdfmetrics.getRegisteredFontNames())
            for name, filename in _FONT_FILES.items():
                path = self._font_dir / filename
                try:
                    if not path.is_file():
                        raise OSError("no such file")
                    if name not in registered:
                        pdfmetrics.registerFont(TTFont(name, str(path)))
                except (TTFError, OSError) as exc:
                    raise ConfigError(
                        f"The evidence report needs the font {path} (Debian package "
                        f"fonts-dejavu-core; `make run` and `make test` install it): {exc}"
                    ) from None


# --- page furniture -------------------------------------------------------------------------


def _numbered_canvas(record: EvidenceRecord, pages: list[int]) -> Callable[..., Canvas]:
    """A canvas that holds each page back until the end, so every page can say "page N of M";
    `pages` receives M."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            pages.append(total)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                _furniture(self, record, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def _furniture(canvas: Canvas, record: EvidenceRecord, number: int, total: int) -> None:
    canvas.saveState()
    top = PAGE_HEIGHT - MARGIN
    canvas.setStrokeColor(RULE)
    canvas.setFillColor(GREY)
    canvas.setFont(SANS_BOLD, 8)
    canvas.drawString(MARGIN, top, "Signature evidence report")
    canvas.setFont(SANS, 8)
    canvas.drawRightString(
        PAGE_WIDTH - MARGIN, top, f"Report {record.report_id} · request {record.request.id}"
    )
    canvas.line(MARGIN, top - 2.5 * mm, PAGE_WIDTH - MARGIN, top - 2.5 * mm)
    bottom = MARGIN
    canvas.line(MARGIN, bottom + 4 * mm, PAGE_WIDTH - MARGIN, bottom + 4 * mm)
    asked = record.generated_for
    generated = f"Generated {utc(record.generated_at)} for {asked.name}"
    if asked.slack_id != asked.name:
        generated += f" ({asked.slack_id})"
    if record.sandbox:
        generated += " · sandbox"
    canvas.drawString(MARGIN, bottom, generated)
    canvas.drawRightString(PAGE_WIDTH - MARGIN, bottom, f"page {number} of {total}")
    canvas.restoreState()


# --- the story ------------------------------------------------------------------------------


def _story(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    request = record.request
    story: list[Flowable] = [
        Paragraph("Signature evidence report", s.title),
        Spacer(1, 2 * mm),
        Paragraph(f"{_t(request.id)}: {_t(request.title)}", s.heading),
        Paragraph(
            "Generated by approvals-bot from its request record and its tamper-evident audit "
            "trail. The SHA-256 of this file is recorded in that trail (evidence.generated, "
            f"report {_t(record.report_id)}); check a copy with "
            "<font name='EvidenceMono'>approvals-bot evidence verify FILE</font>. "
            "All times are UTC.",
            s.small,
        ),
    ]
    if record.sandbox:
        story.append(
            Paragraph(
                "Sandbox: made against the built-in ApprovalFlow sandbox, not a live site.",
                s.small,
            )
        )
    story += _request_section(record, s)
    story += _target_section(record, s)
    story += _snapshot_section(record, s)
    story += _signatures_section(record, s)
    story += _submission_section(record.submission, s)
    story += _timeline_section(record, s)
    story += _audit_section(record, s)
    return story


def _t(text: object) -> str:
    """Text from the records as inert Paragraph markup; its line breaks kept."""
    return escape(str(text)).replace("\n", "<br/>")


def _who(party: Party) -> str:
    parts = [party.name]
    if party.slack_id and party.slack_id != party.name:
        parts.append(f"Slack {party.slack_id}")
    if party.atlassian_id:
        parts.append(f"Atlassian {party.atlassian_id}")
    return parts[0] if len(parts) == 1 else f"{parts[0]} ({', '.join(parts[1:])})"


def _facts(rows: Sequence[tuple[str, str]], s: _Styles, *, mono: Sequence[str] = ()) -> Table:
    """A two-column label / value table; values named in `mono` in the fixed-width font."""
    data = [
        [Paragraph(_t(label), s.label), Paragraph(_t(value), s.mono if label in mono else s.cell)]
        for label, value in rows
    ]
    table = Table(data, colWidths=[42 * mm, BODY_WIDTH - 42 * mm], hAlign="LEFT")
    table.setStyle(_grid(header=False))
    return table


def _grid(*, header: bool) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.4, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), SHADE))
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), SHADE))
    return TableStyle(commands)


def _columns(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    s: _Styles,
    *,
    notes: Sequence[str] = (),
) -> Table:
    """A table with a header row; a non-empty `notes[i]` is printed under row i across the
    whole width, in the fixed-width font (seals, account ids: long words that must not wrap)."""
    data: list[list[Any]] = [[Paragraph(_t(h), s.label) for h in header]]
    style = _grid(header=True)
    for index, row in enumerate(rows):
        data.append([Paragraph(_t(cell), s.cell) for cell in row])
        note = notes[index] if index < len(notes) else ""
        if note:
            data.append([Paragraph(_t(note), s.mono)] + [""] * (len(header) - 1))
            line = len(data) - 1
            style.add("SPAN", (0, line), (-1, line))
    table = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(style)
    return table


def _heading(text: str, s: _Styles) -> Paragraph:
    return Paragraph(_t(text), s.heading)


def _request_section(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    r = record.request
    return [
        _heading("1. Request", s),
        _facts(
            [
                ("Request id", r.id),
                ("Title", r.title),
                ("Requester", _who(r.requester)),
                ("Created", utc(r.created_at)),
                ("Expires", utc(r.expires_at)),
                ("Status", r.status),
                ("Signing policy", r.policy),
                ("Posted in", f"Slack channel {r.channel}, {r.source}"),
            ],
            s,
        ),
    ]


def _target_section(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    t = record.target
    rows = [("Kind", t.kind), ("Id", t.id)]
    if t.title:
        rows.append(("Title", t.title))
    if t.summary:
        rows.append(("Summary", t.summary))
    if t.space:
        rows.append(("Space", t.space))
    rows += [("Link", f"{link.label}: {link.url}") for link in t.links]
    rows.append(("Reference link", t.reference_url or "none"))
    return [_heading("2. Target", s), _facts(rows, s)]


def _snapshot_section(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    snap = record.snapshot
    rows = [
        [
            page.page_id,
            page.title or "(title not known)",
            "?" if page.version is None else f"v{page.version}",
            page.preflight,
            page.url,
        ]
        for page in snap.pages
    ]
    widths = [18 * mm, 45 * mm, 17 * mm, 38 * mm, BODY_WIDTH - 118 * mm]
    notes = [f"v{p.version} made {p.edited}" if p.version else p.edited for p in snap.pages]
    header = ["Page id", "Title", "Version", "Preflight", "Link"]
    return [
        _heading("3. Snapshot signed", s),
        Paragraph(f"{len(snap.pages)} page(s) as preflighted when the request was made.", s.small),
        Spacer(1, 1.5 * mm),
        _columns(header, rows, widths, s, notes=notes),
        Spacer(1, 1.5 * mm),
        _facts([("Snapshot hash (SHA-256)", snap.digest)], s, mono=["Snapshot hash (SHA-256)"]),
    ]


def _signatures_section(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    heading = _heading("4. Signatures", s)
    if not record.signatures:
        return [heading, Paragraph("No signature is recorded on this request.", s.body)]
    out: list[Flowable] = []
    for number, signature in enumerate(record.signatures, start=1):
        block = _signature(number, signature, record.snapshot.digest, s)
        # The heading travels with the first signature: never alone at the foot of a page.
        out.append(KeepTogether([heading, *block] if number == 1 else block))
        out.append(Spacer(1, 2 * mm))
    return out


def _signature(
    number: int, sig: SignatureFacts, snapshot_digest: str, s: _Styles
) -> list[Flowable]:
    rows = [
        ("Printed name", sig.signer.name),
        ("Slack user id", sig.signer.slack_id),
        ("Atlassian account id", sig.signer.atlassian_id or "not recorded"),
        ("Date and time (UTC)", utc(sig.signed_at)),
        ("Decision", sig.decision),
    ]
    if sig.stage:
        rows.append(("Stage", sig.stage))
    rows.append(("Meaning", sig.meaning))
    if sig.reason:
        rows.append(("Reason", sig.reason))
    else:
        rows.append(("Comment", sig.comment or "none"))
    rows.append(("Approval Token", sig.code_verified))
    same = "the snapshot above" if sig.snapshot_digest == snapshot_digest else "a later snapshot"
    rows.append(("Signed snapshot (SHA-256)", f"{sig.snapshot_digest} ({same})"))
    return [
        Paragraph(f"Signature {number}: {_t(sig.decision)} by {_t(sig.signer.name)}", s.label),
        Spacer(1, 1 * mm),
        _facts(rows, s, mono=["Signed snapshot (SHA-256)"]),
    ]


def _submission_section(sub: SubmissionFacts | None, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_heading("5. ApprovalFlow submission", s)]
    if sub is None:
        out.append(Paragraph("Nothing was submitted to ApprovalFlow for this request.", s.body))
        return out
    when = (
        "time unreadable (see the chain check)"
        if sub.submitted_at is None
        else utc(sub.submitted_at)
    )
    rows = [
        ("Submitted as", _who(sub.submitted_by)),
        ("When", when),
        ("Outcome", f"{sub.outcome}: {len(sub.submitted)} page(s), {len(sub.skipped)} skipped"),
    ]
    if sub.note:
        rows.append(("Note", sub.note))
    out.append(_facts(rows, s))
    results = [[p.page_id, p.title or "", "submitted", ""] for p in sub.submitted]
    results += [[p.page_id, p.title or "", "skipped", p.reason] for p in sub.skipped]
    if results:
        out.append(Spacer(1, 1.5 * mm))
        widths = [22 * mm, 60 * mm, 22 * mm, BODY_WIDTH - 104 * mm]
        out.append(_columns(["Page id", "Title", "Result", "Reason"], results, widths, s))
    return out


def _timeline_section(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_heading("6. Review timeline", s)]
    points = record.timeline
    if not points:
        out.append(Paragraph("No review: the request was not submitted.", s.body))
        return out
    start = points[0].at
    out.append(timeline_chart(points, record.generated_at))
    rows = [
        [utc(p.at), p.state, "at the submit" if i == 0 else f"+{_span(p.at - start)}"]
        for i, p in enumerate(points)
    ]
    widths = [50 * mm, 60 * mm, BODY_WIDTH - 110 * mm]
    out.append(_columns(["Since (UTC)", "Rollup state", "After the submit"], rows, widths, s))
    return out


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes} min"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"


def timeline_chart(points: Sequence[ReviewPoint], until: datetime) -> Drawing:
    """The rollup state over time as a step line: ReportLab's LinePlot, states on the y axis,
    time since the submit on the x axis (minutes, hours or days, whichever reads best)."""
    states = [state for state in STATE_ORDER if any(p.state == state for p in points)]
    states += sorted({p.state for p in points} - set(states))  # states we do not know yet
    level = {state: index for index, state in enumerate(states)}
    start = points[0].at
    end = max(until, points[-1].at)
    total = (end - start).total_seconds()
    unit, unit_seconds = (
        ("days", 86400.0) if total > 3 * 86400 else ("hours", 3600.0) if total > 3 * 3600
        else ("minutes", 60.0)
    )  # fmt: skip

    def x(when: datetime) -> float:
        return (when - start).total_seconds() / unit_seconds

    steps: list[tuple[float, float]] = []
    for previous, point in zip((None, *points[:-1]), points, strict=True):
        if previous is not None:
            steps.append((x(point.at), level[previous.state]))
        steps.append((x(point.at), level[point.state]))
    steps.append((x(end), level[points[-1].state]))

    height = 28 * mm + 7 * mm * len(states)
    drawing = Drawing(BODY_WIDTH, height)
    plot = LinePlot()
    plot.x, plot.y = 34 * mm, 12 * mm
    plot.width, plot.height = BODY_WIDTH - 40 * mm, height - 20 * mm
    plot.data = [steps]
    plot.joinedLines = 1
    plot.lines[0].strokeColor = ACCENT
    plot.lines[0].strokeWidth = 1.6
    plot.xValueAxis.valueMin = 0
    plot.xValueAxis.valueMax = max(x(end), 1.0)
    plot.xValueAxis.labels.fontName = SANS
    plot.xValueAxis.labels.fontSize = 7
    plot.xValueAxis.labelTextFormat = _axis_number
    plot.yValueAxis.valueMin = -0.5
    plot.yValueAxis.valueMax = len(states) - 0.5
    plot.yValueAxis.valueSteps = list(range(len(states)))
    plot.yValueAxis.labels.fontName = SANS
    plot.yValueAxis.labels.fontSize = 7
    plot.yValueAxis.labelTextFormat = lambda value: _state_label(states, value)
    plot.yValueAxis.visibleGrid = 1
    plot.yValueAxis.gridStrokeColor = RULE
    drawing.add(plot)
    caption = f"{unit} after the submit (until this report was generated)"
    drawing.add(
        String(plot.x + plot.width / 2, 2 * mm, caption, fontName=SANS, fontSize=7,
               fillColor=GREY, textAnchor="middle")
    )  # fmt: skip
    return drawing


def _axis_number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _state_label(states: Sequence[str], value: float) -> str:
    index = round(value)
    return states[index] if 0 <= index < len(states) and index == value else ""


def _audit_section(record: EvidenceRecord, s: _Styles) -> list[Flowable]:
    out: list[Flowable] = [
        _heading("7. Audit entries of this request", s),
        Paragraph(
            "Each entry as stored in the hash chain: its sequence number, the key id (kid) of "
            "the audit key that sealed it and its seal (HMAC-SHA256). Secrets, codes and tokens "
            "are never recorded.",
            s.small,
        ),
        Spacer(1, 1.5 * mm),
    ]
    if record.audit:
        out.append(_audit_table(record.audit, s))
    else:
        out.append(Paragraph("No audit entry names this request.", s.body))
    verdict = "INTACT" if record.chain.ok else "BROKEN"
    out += [
        Spacer(1, 2 * mm),
        _facts(
            [
                (
                    "Chain verification",
                    f"{verdict} at {utc(record.generated_at)}: {record.chain.text}",
                )
            ],
            s,
        ),
    ]
    return out


def _audit_table(rows: Sequence[AuditRow], s: _Styles) -> Table:
    header = ["Seq", "UTC time", "Actor", "Action", "Meaning / reason"]
    widths = [10 * mm, 50 * mm, 26 * mm, 44 * mm, BODY_WIDTH - 130 * mm]
    said = [" · ".join(part for part in (row.meaning, row.reason) if part) for row in rows]
    cells = [
        [str(row.seq), row.at, row.actor, row.action, text]
        for row, text in zip(rows, said, strict=True)
    ]
    seals = [f"kid {row.kid} · seal {row.hash}" for row in rows]
    return _columns(header, cells, widths, s, notes=seals)
