"""Slack listeners: parse payloads into typed inputs, call one service, render Block Kit."""
