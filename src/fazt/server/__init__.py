"""The server root: the app and its routes per host kind, the lifespan, the supervisor."""
