"""The playground: an emulated Slack workspace a person uses in a browser, served by the bot."""
