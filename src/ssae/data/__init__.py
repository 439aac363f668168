"""Datasets: the dataset format of data/raw, image decoding, and the sources (MVTec AD, your folder, embedded)."""
