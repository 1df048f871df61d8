"""Performance measurements, each a ratio against a baseline or real time, run side by side.

Shipped as ``myostream_reports.benchmarks``. Run with `myostream report bench GROUP`
(or `myostream bench GROUP`); reports land in benchmarks/results/ (committed).
"""
