"""The one exception app storage raises for mistakes the app made."""


class StorageError(Exception):
    """A storage call the app made incorrectly; the message is shown to the app."""
