"""Per-site realtime channels over WebSocket."""
