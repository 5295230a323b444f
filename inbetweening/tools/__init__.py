"""Tools for developers of models: probe, diagnose, curves, summary."""
