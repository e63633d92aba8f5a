"""Signed releases: building them (maintainers), verifying and installing them (upgrades)."""
