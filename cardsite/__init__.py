"""cardsite: build contact YAML into vCards, landing pages and print-ready QR codes."""

from __future__ import annotations

__version__ = "0.1.0"
