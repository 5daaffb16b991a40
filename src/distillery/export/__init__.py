"""Export: ONNX (FP32 + INT8) with a parity gate, manifest, model card, benchmark, packaging."""
