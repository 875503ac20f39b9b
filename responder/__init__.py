"""Outgoing mail: Jinja2 templates, rendering, the outbox and its sender. Imports only `models`."""
