"""The defaults every way of connecting shares, apart from the types that use them.

The command line's parser needs them for ``--help`` and ``--version``, which must
not pay for the options type (``dataclasses`` alone imports ``inspect``).
"""

DEFAULT_TIMEOUT = 30.0
DEFAULT_HELO = "localhost"
