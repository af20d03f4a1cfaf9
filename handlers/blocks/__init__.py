"""Block Kit builders: pure functions from our types to Slack payload dicts, validated."""
