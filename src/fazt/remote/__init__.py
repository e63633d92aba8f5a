"""Talking to fazt servers: the local list of peers and an HTTP API client."""
