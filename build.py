#!/usr/bin/env python3
"""Build, check, preview, publish and announce the business-card site (see README)."""

import sys

from cardsite.cli import main

if __name__ == "__main__":
    sys.exit(main())
