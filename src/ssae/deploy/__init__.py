"""Deployment: the exportable scorer, ONNX export and predict."""
