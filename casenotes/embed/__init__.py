"""Sentence embeddings: the Encoder protocol and its backends (sentence-transformers on torch,
ONNX Runtime fp32 and int8, exported from the packaged all-MiniLM-L6-v2 at first use)."""
