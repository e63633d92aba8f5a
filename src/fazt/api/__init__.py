"""JSON API handlers on the dashboard host."""
