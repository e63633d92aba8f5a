"""Starter folders for `fazt app create`, shipped as package data."""
