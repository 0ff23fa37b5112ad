"""The web console: server-rendered pages (Jinja2 + htmx), shared layout and static files."""
