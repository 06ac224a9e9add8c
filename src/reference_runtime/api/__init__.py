"""The Runtime's HTTP and WebSocket surface, one module per resource."""
