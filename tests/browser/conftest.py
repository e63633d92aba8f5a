"""Browser tests use the session-wide `chromium` fixture from tests/conftest.py."""
