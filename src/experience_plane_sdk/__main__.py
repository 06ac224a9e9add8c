"""`python -m experience_plane_sdk`: the SDK's command line (see `experience_plane_sdk.cli`)."""

import sys

from experience_plane_sdk.cli import main

sys.exit(main())
