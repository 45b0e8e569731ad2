"""Data layer: the skeleton definition, the original dataset format, audio I/O and corpora."""
