"""Data: the JSONL data contract, the synthetic corpus, datasets and batching."""
