"""The web UI and JSON API (ASGI), served by `deskmail serve` and `deskmail web`.

Where things are:

- `app.create_app(app)` — the FastAPI application; `extensions` lists what it serves.
- `routing` — `Area` (routes, each with an `Access` level), `NavEntry`, `TicketPanel`,
  `StatusPanel`, `WebExtension`: how a part of Deskmail adds pages, API endpoints, navigation
  entries and boxes on the ticket and status pages.
- `auth` — access levels, the route guard, principals (session or Bearer token), CSRF checks;
  `CurrentUser` / `CurrentRequester` are the dependencies endpoints take.
- `sessions`, `throttle`, `security` — login sessions, login rate limits, response headers.
- `rendering` — `render()`, `redirect()` with one-time messages, the Jinja2 environment;
  templates in `templates/` (extend `base.html`), static files in `static/`.
- `routes_*` — the pages and the API: auth, tickets, status (requesters), admin, api.
- `queue`, `ticket_pages`, `mail_html`, `downloads` — what the pages show and how files leave.
- `status_links.status_link(settings, ticket_id, email)` — requesters' links for mail.
- `web_settings.WebSettings` (the `[web]` settings) and `config.WebConfig` (frozen, per process).
"""
