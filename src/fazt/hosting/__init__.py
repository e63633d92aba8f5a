"""Sites, content-addressed deployments, host routing and static serving."""
