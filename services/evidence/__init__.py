"""Signature evidence reports: a verifiable PDF per approval request, for auditors."""

from services.evidence.model import EvidenceRecord, ReportFile, Verdict
from services.evidence.service import EvidenceReports

__all__ = ["EvidenceRecord", "EvidenceReports", "ReportFile", "Verdict"]
