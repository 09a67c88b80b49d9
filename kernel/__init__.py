"""The shared kernel: what every room (detectors, data, dashboard, jobs, app) may import.

Before it existed, paths, config and the error root lived in detectors/ and data/ kept
its own copies (three default database paths, an error base that did not inherit from
``StoreLensError``, two service-discovery files). The kernel holds exactly those
cross-room facts and imports nothing from the rooms, so any room can depend on it
without breaking the rooms' one direction (README "Layout"; tests/test_import_cycles.py):

* :mod:`storelens.kernel.paths`: STORELENS_HOME, the var dir, the one default database;
* :mod:`storelens.kernel.errors`: the error root :class:`StoreLensError`;
* :mod:`storelens.kernel.config`: the store config (pydantic, ``extra="forbid"``) and the
  one resolver of which config is in force;
* :mod:`storelens.kernel.alert_channels`: the push-alert channels of the store config;
* :mod:`storelens.kernel.redact`: masking of credentials in URLs (config errors echo them);
* :mod:`storelens.kernel.discovery`: the one file that says where a database's services listen;
* :mod:`storelens.kernel.tile_tokens`: the tile-token protocol of the dashboard and tile server;
* :mod:`storelens.kernel.frame_size`: a tile's camera frame size, read without OpenCV.
"""
