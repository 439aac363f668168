"""Self-supervised autoencoders for visual anomaly detection."""
