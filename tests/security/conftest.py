"""Fixtures shared with the fault matrix (tests/reliability/support.py, loaded by path:
the test folders are not packages)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if "storelens_fault_support" not in sys.modules:
    import importlib.util

    _path = Path(__file__).resolve().parents[1] / "reliability" / "support.py"
    _spec = importlib.util.spec_from_file_location("storelens_fault_support", _path)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["storelens_fault_support"] = _module
    _spec.loader.exec_module(_module)

from storelens_fault_support import (
    PipelineRun,
    detectors_fixtures,
    person_detector,
    short_pipeline_run,
)

_det = detectors_fixtures()
media_dir = _det.media_dir
store_gif = _det.store_gif
rtsp_server_factory = _det.rtsp_server_factory

__all__ = ["media_dir", "person_detector", "rtsp_server_factory", "store_gif"]


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> PipelineRun:
    """One real short `storelens pipeline` run, shared by the security and privacy tests."""
    return short_pipeline_run(tmp_path_factory.mktemp("pipeline-run"), media_dir)
