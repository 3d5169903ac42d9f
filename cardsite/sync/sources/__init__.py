"""The directory sources: each module reads one kind of source into plain Records, and nothing else."""
