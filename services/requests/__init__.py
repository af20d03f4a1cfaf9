"""Approval requests: posting, signing with the Approval Token, submitting as the signer, tracking."""
