"""Evaluation: metrics (shared by training and evaluate), reports and plots."""
