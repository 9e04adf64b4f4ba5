"""dispymon's benchmark suite (issue 7): `./scripts/bench` runs it and writes docs/benchmarks.md.

Not part of the product: benchmarks may import dispy, dispy.httpd and msgpack
directly. No timed assertion lives in the test suite; the figures are here.
"""
