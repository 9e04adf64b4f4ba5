"""`dispymon.cli:main`, the old console-script path (now dispymon.entry.cli)."""

from dispymon.entry.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
