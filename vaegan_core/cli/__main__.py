"""`python -m vaegan_core.cli ...` (torchrun starts `-m vaegan_core.cli train`)."""

import sys

from . import main

sys.exit(main())
