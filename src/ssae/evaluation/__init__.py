"""Evaluation: metrics, bootstrap, resolution changes, score files, tables, figures, references."""
