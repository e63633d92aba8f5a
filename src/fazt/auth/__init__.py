"""Passwords, API tokens and their scopes."""
