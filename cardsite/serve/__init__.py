"""Stage 4: the local preview, with live reload."""
