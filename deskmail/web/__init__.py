"""The web UI and JSON API (ASGI), served by `deskmail serve` and `deskmail web`."""
