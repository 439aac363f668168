"""Experiments over the pipeline: protocols, seed studies, comparison of runs."""
