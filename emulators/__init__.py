"""Emulators of the services the bot talks to: Slack and ApprovalFlow (with Atlassian 3LO).

They stand apart from `bot`, `handlers` and `services` (import-linter keeps it so): tests that use
them check our code against something it does not share, and the bot serves them unchanged when
no real service is configured.
"""
