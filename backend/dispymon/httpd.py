"""The drop-in server, at the path users import: `from dispymon.httpd import DispyHTTPServer`."""

import sys

from dispymon.entry import httpd as _httpd

sys.modules[__name__] = _httpd  # one module object: same names, same logger, same patches
