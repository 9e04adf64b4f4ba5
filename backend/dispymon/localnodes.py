"""`python -m dispymon.localnodes` (docs/using.md, Examples): now dispymon.adapters.localnodes."""

import sys

from dispymon.adapters.localnodes import *  # noqa: F403
from dispymon.adapters.localnodes import main

if __name__ == "__main__":
    sys.exit(main())
