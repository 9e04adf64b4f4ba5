import sys

from dispymon.entry.cli import main

sys.exit(main())
