"""Active learning: one round of pool scoring -> candidate selection -> oracle labelling -> merge ->
retrain -> report (``distillery active-learn``; see docs/active-learning.md)."""
