"""What a deployed scorer needs, and nothing else: the context strategy, calibration, conformal
confidence, the shared scoring steps, the ONNX scorer, the hybrid scorer and the typed manifest.

Every other package imports from here, never the reverse: these modules import only numpy,
pyyaml, pydantic, ``tokenizers``, onnxruntime and ``distillery.filters.spec`` /
``distillery.filters.prefilter`` / ``distillery.errors``. ``distillery package`` vendors this
folder (with those three modules) into every scorer wheel, so a wheel computes exactly what
``distillery`` computes (docs/decisions/ for the boundary).
"""
