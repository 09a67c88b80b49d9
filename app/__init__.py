"""The composition root: the `storelens` command and the processes it starts.

The only room that may import every other one (kernel ← detectors, data ← dashboard ←
app). Pages never import it (tests/test_import_cycles.py).
"""
