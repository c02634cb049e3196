"""`python -m puffer_train ...` is `puffer-train ...` (what torchrun runs on every rank)."""

import sys

from .cli import main

sys.exit(main())
