"""A small S3 client of our own (AWS Signature Version 4 over httpx): blobs in a bucket.

See docs/decisions/012-blobs-in-object-storage.md for why it is not boto3.
"""
