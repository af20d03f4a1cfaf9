"""The audit trail: events every feature records, a hash chain over them, verification, export."""
