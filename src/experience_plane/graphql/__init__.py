"""The GraphQL API: a Strawberry schema split by domain, served over HTTP, WebSocket and SSE."""
