"""Serverless JavaScript: QuickJS contexts in a small pool of JS worker processes
(docs/serverless.md, docs/decisions/005-js-isolation.md)."""
