"""Operating the service: Prometheus metrics (`metrics`, `graphql`), structured logs (`logging`),
W3C trace context propagated to the Runtime (`tracecontext`, `runtime`), OpenTelemetry spans
when configured (`tracing`), and the ASGI middleware applying them (`middleware`). See README,
"Running in production".
Import the submodules themselves: nothing is re-exported here, so that the light ones
(`metrics`, `tracecontext`) can be used by low-level modules without import cycles.
"""
