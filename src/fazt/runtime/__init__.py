"""Serverless JavaScript: QuickJS contexts on dedicated worker threads (docs/serverless.md)."""
