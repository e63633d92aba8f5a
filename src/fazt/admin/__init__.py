"""The dashboard: server-rendered pages (Jinja2) for localhost and admin.<domain>."""
