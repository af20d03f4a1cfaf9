"""Approval requests: posting, signing with the Approval Token, submitting as signer, tracking."""
