"""`python -m experience_plane` == `experience-plane`."""

import sys

from experience_plane.cli import main

sys.exit(main())
