"""Offline building and training: model conversion and classifier training.

Nothing that serves a question imports this package (tests/test_layers.py checks it).
"""
