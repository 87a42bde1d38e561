"""The bottom layer: plain data (records, errors), the lecture's layer arithmetic, every limit as a
constant, formatting, safe file I/O, images and input signatures. Imports nothing of explorer's
but itself, and nothing heavier than torch's types."""
