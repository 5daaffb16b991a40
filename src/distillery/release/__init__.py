"""Release engineering: held-out sets, the candidate-vs-deployed gate and its report (docs/release.md)."""
