"""Per-app storage for serverless apps: key-value, documents and blobs."""
