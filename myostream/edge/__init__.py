"""The edge runtime: a checkpoint exported to ONNX, ranked on onnxruntime without torch.

- :mod:`myostream.edge.folder`: the exported folder (``manifest.json``, ``emg.onnx``, optionally
  ``text.onnx`` + ``tokenizer.json``), read without torch;
- :mod:`myostream.edge.export`: ``myostream export CKPT --onnx DIR`` (needs torch, runs on the
  development machine);
- :mod:`myostream.edge.ranker`: :class:`~myostream.edge.ranker.OnnxRanker`, the pipeline's ranker on
  onnxruntime (numpy, scipy, pylsl and onnxruntime only: what goes on a small board);
- :mod:`myostream.edge.text`: free-text queries through the exported text encoder (``tokenizers``).

Nothing is imported here, so ``import myostream.edge`` costs nothing.
"""
