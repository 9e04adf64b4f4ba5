"""`dispymon.sharedwatch.SharedClusterError` (docs/using.md): now in dispymon.adapters.dispy.shared."""

from dispymon.adapters.dispy.shared import SHARED_WAIT_WARN, SharedClusterError, install_shared_watch

__all__ = ["SHARED_WAIT_WARN", "SharedClusterError", "install_shared_watch"]
