"""The ASGI application: G2G routes, the gateway, wire rendering, docs and probes."""
