"""Runtime of approvals-bot: CLI, configuration, composition root, web server, jobs, stores."""
