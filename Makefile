# The README's two commands. Both set up whatever is missing first (idempotent;
# seconds the second time) and then do their job.
.PHONY: demo test setup setup-test lint bench

demo: setup
	.venv/bin/storelens up --lake var/lake

test: setup-test
	.venv/bin/ruff check .
	YOLO_OFFLINE=1 .venv/bin/python -m pytest -q

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
