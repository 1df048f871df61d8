"""The language side of MyoSem: description catalogs (catalog), glove-derived process
text (glove), the TextEncoder (encoder), stage-1 training and prototypes (stage1) and
its report (report)."""
