"""The reference Runtime: a real, self-contained implementation of the Runtime contract.
Run it with `reference-runtime` or `python -m reference_runtime`; build it with
`reference_runtime.app.create_app(settings)`.
"""
