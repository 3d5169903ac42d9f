"""Stage 1: cards are loaded and checked.

YAML files are read keeping each value's line (load), checked against the schema and the
field rules (validate), merged with site.yaml (settings) and turned into Card objects (model).
"""
