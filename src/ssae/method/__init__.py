"""The method: model, corruption masks and corruption, training, checkpoint, anomaly maps, calibration."""
