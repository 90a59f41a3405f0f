"""The engine: scanning, decoding, catalog, embedding, index, grouping, file actions.

Nothing in this package imports Qt; the GUI and the CLI drive it through plain Python
generators that yield progress and honour a cancel token (see ``progress``).
"""
