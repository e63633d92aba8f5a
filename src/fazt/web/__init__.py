"""The HTTP toolkit: requests and responses, the router, readiness, handover and steering.

Imports nothing of the product (an import-linter contract checks it), so every layer may
use it.
"""
