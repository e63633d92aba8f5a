"""Self-upgrade: fetch a signed release, install it beside the current one, hand over."""
