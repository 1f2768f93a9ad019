"""The ``electwatch`` command line: thin shells over the library functions."""
