"""Offline tools of the vision room: measuring and benchmarking, never run by a camera.

``bench`` (``storelens bench``), ``analyze`` (``storelens analyze``: one clip through
the camera pipeline, summarised), ``evaluation`` (an expression reader on labelled
photos) and ``clip_evaluation`` (on labelled camera footage) drive the runtime modules
from outside. Nothing at run time imports this package
(``tests/test_import_cycles.py`` checks that the pipeline process never reaches it).
"""
