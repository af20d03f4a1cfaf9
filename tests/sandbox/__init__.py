"""Tests of the built-in ApprovalFlow sandbox, driven over real HTTP."""
