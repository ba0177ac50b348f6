"""The fine-tuned readers: pair construction, ONNX inference and the decisions made from their outputs."""
