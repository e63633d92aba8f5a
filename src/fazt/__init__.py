"""fazt: a personal cloud in one program and one SQLite file."""

__version__ = "0.1.0"
