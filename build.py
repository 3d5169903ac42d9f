#!/usr/bin/env python3
"""Build, check, preview, publish and announce the business-card site (see README)."""

from cardsite.cli import run

if __name__ == "__main__":
    run()
