"""Performance measurements, each a ratio against a baseline or real time, run side by side.

Run with `myostream bench GROUP`; reports land in benchmarks/results/ (committed).
"""
