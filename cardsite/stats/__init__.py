"""Scan analytics from the CDN's own access logs: scans and saves per card, by source, and their cost."""
