"""The domain of approvals-bot: no Slack, no Redis, no web framework; ports in `services.ports`."""
