"""Loopback fakes of the services the bot talks to, so tests run the real client libraries offline."""
