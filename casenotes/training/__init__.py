"""Training code for the fine-tuned readers (datasets of pairs, fine-tuning loops, ONNX export)."""
