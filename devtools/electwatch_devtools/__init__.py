"""Development support of electwatch: fixtures of the service tests (``testing``) and the
HTTP load generator of the benchmark and crash test (``loadtest``).

Not part of the product: it lives outside ``src/`` and is never in the wheel. The
tests find it through pytest's ``pythonpath``; the benchmarks add this folder to
``sys.path`` themselves.
"""
