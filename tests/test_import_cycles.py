"""No import cycle between product files (issue 20).

Every ``import`` and ``from … import`` in the product's rooms counts, lazy ones
inside functions too: a cycle hidden in a function body still means neither file
can be understood, tested or moved without the other (the old
``valence → evaluation → expressions → valence`` loop made the live reader
depend on the offline evaluation harness).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("kernel", "detectors", "data", "dashboard", "jobs", "app")


def product_modules() -> dict[str, Path]:
    modules = {}
    for room in ROOMS:
        for path in (REPO / room).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            if parts[-1] == "__init__":  # a package is imported by its own name
                parts = parts[:-1]
            modules["storelens." + ".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_cycle_between_product_files() -> None:
    modules = product_modules()
    assert "storelens.detectors.expressions" in modules  # the walk found the rooms
    found = cycles(import_graph(modules))
    assert not found, "import cycles between product files: " + "; ".join(
        " ↔ ".join(c) for c in found
    )


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_page_reaches_opencv_or_the_process_launcher() -> None:
    """Pages are Streamlit scripts: importing one must not load OpenCV (the vision room's
    capture and models) nor the composition root (``app/``: the CLI and the processes it starts; issue 20
    item 1)."""
    modules = product_modules()
    graph = import_graph(modules)
    cv2_users = {
        name
        for name, path in modules.items()
        if any(
            (isinstance(n, ast.Import) and any(a.name == "cv2" for a in n.names))
            or (isinstance(n, ast.ImportFrom) and n.module == "cv2")
            for n in ast.walk(ast.parse(path.read_text()))
        )
    }
    assert "storelens.detectors.sources" in cv2_users  # the scan sees OpenCV imports
    launchers = {m for m in modules if m.split(".")[1] == "app"}  # the composition root
    assert "storelens.app.cli" in launchers and "storelens.app.supervisor" in launchers
    pages = [m for m in modules if ".screens." in m or m.endswith("dashboard.app")]
    assert len(pages) >= 7
    for page in pages:
        reached = reachable(graph, page) | {page}
        assert not reached & cv2_users, f"{page} imports OpenCV via {sorted(reached & cv2_users)}"
        assert not reached & launchers, f"{page} imports {sorted(reached & launchers)}"


# The direction of the rooms, said once (README "Layout" and kernel/__init__.py point here).
# A room may import itself and the rooms listed; anything else is a wrong-way import.
ROOM_MAY_IMPORT = {
    "kernel": set(),
    "detectors": {"kernel", "data.sink"},  # rows leave the vision room in data's contract
    "data": {"kernel"},
    "jobs": {"kernel", "data"},
    "dashboard": {"kernel", "data", "detectors.model_card"},  # the Privacy page's card
    "app": {"kernel", "detectors", "data", "dashboard", "jobs"},  # the composition root
}


def _allowed(source_room: str, target: str) -> bool:
    rest = target.removeprefix("storelens.")
    return rest.split(".")[0] == source_room or any(
        rest == allowed or rest.startswith(allowed + ".")
        for allowed in ROOM_MAY_IMPORT[source_room]
    )


def test_rooms_import_one_way() -> None:
    modules = product_modules()
    assert {m.split(".")[1] for m in modules} == set(ROOM_MAY_IMPORT)
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in import_graph(modules).items()
        for target in targets
        if not _allowed(source.split(".")[1], target)
    )
    assert not wrong, "imports against the rooms' direction:\n" + "\n".join(wrong)
    assert not _allowed("data", "storelens.dashboard.views")  # the check can fail


OFFLINE = "storelens.detectors.offline"  # bench, analyze, evaluation, clip_evaluation


def test_the_pipeline_process_never_reaches_the_offline_tools() -> None:
    """The offline tools (issue 20 item 4) drive the runtime modules from outside; nothing
    the pipeline process runs imports them, lazily or not. The demo store
    (``detectors.demo``) and its footage chain (``detectors.media``) are run time: with no
    store config saved, the pipeline process runs the demo store."""
    modules = product_modules()
    graph = import_graph(modules)
    offline = {m for m in modules if m == OFFLINE or m.startswith(OFFLINE + ".")}
    assert f"{OFFLINE}.bench" in offline and f"{OFFLINE}.clip_evaluation" in offline
    reached = reachable(graph, "storelens.app.pipeline_process")
    assert "storelens.detectors.runner" in reached  # the walk follows the lazy imports
    assert not reached & offline, f"the pipeline process reaches {sorted(reached & offline)}"
    # No runtime module of the vision room imports an offline tool, whoever starts it.
    runtime = [m for m in modules if m.startswith("storelens.detectors.") and m not in offline]
    wrong = sorted(f"{m} -> {t}" for m in runtime for t in graph[m] & offline)
    assert not wrong, "runtime modules import offline tools:\n" + "\n".join(wrong)
