"""Sentence embeddings: the Encoder protocol and its backends (sentence-transformers on torch,
ONNX Runtime fp32 and int8, exported from the packaged all-MiniLM-L6-v2 at first use).

The backend names live here, free of numpy and torch, so that settings can name one cheaply."""

__all__ = ["BACKENDS", "DEFAULT_BACKEND"]

BACKENDS = ("torch", "onnx-fp32", "onnx-int8", "onnx-int8-mixed")
# The fastest backend whose goal-status macro-F1 on the test split stays within 0.01 of torch's
# (eval/bench/RESULTS-encoder.md): fp32 ONNX gives torch's vectors (cosine 1.00000) about 1.5x
# faster, starting in 0.5 s instead of 6-7 s; int8 is faster still but moved macro-F1 by -0.024.
DEFAULT_BACKEND = "onnx-fp32"
