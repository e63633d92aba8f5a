"""fazt over the Model Context Protocol: tools and resources for AI agents (`fazt mcp`).

Needs the optional `mcp` SDK: `pip install 'fazt[mcp]'`. The tools are thin: each one is
a call to a fazt server's JSON API (or the same code `fazt deploy` runs), so what an agent
may do is exactly what the token it runs with allows.
"""
