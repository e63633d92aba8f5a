"""The RSGI application, its request/response helpers and the Granian listener."""
