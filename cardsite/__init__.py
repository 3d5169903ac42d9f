"""cardsite: build contact YAML into vCards, landing pages and print-ready QR codes."""

from __future__ import annotations

import os

__version__ = "0.1.0"

# numpy (the QR code's bit planes, the artwork) starts OpenBLAS's thread pool on import, and its threads
# spin for a while before they sleep: 0.08-0.1 s of CPU in every process that imports numpy, a quarter of
# a one-card rebuild's CPU. cardsite does no linear algebra; one thread is all it needs. Set before any
# import of numpy; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
