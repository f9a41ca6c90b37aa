"""Metadata quality (issue 18): an MQA-style score of every public asset (docs/quality.md)."""
