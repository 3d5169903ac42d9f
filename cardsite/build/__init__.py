"""Stage 3: the site is built.

The engine decides what is current (fingerprint, store), plans each card's outputs from one
table of rules, renders what changed and writes it atomically into the output folder (output).
"""
