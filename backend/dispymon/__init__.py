"""dispymon: a live web dashboard for dispy clusters.

The package is split so that dependencies point one way:

    adapter (imports dispy)  ->  events  <-  state  <-  views  <-  server (aiohttp)
                                              ^                      ^
                                            hub  ------------------ cli
    codec (the only module importing msgpack) is used by server only.
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 1
