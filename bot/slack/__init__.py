"""Everything the bot sends to Slack: one Web API adapter, its failure map, and its senders."""
