"""Moving blob bytes between SQLite and an object store (`fazt storage offload`).

See docs/object-storage.md and docs/decisions/012-blobs-in-object-storage.md.
"""
