"""`python -m reference_runtime`."""

from reference_runtime.cli import main

main()
