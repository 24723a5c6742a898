"""Offline training of the digit recognizer: MNIST in, `models/` artifacts out."""
