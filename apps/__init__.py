"""PyQt6 applications: the live retrieval window and the calibration recorder."""
