"""Inspectable fakes: in-memory stores, a fake Slack Web API server, a movable clock."""
