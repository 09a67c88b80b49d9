"""Train and measure the learned valence head, person-disjoint, reproducibly.

    .venv/bin/python scripts/valence_features.py        # once: features from ../shared/expressions
    .venv/bin/python scripts/train_valence.py [--write]  # CV table; --write saves the model

Every number is from grouped 5-fold cross-validation by ``person`` (seed 7): a
model is never scored on a person it was trained on. Training data is the clean
photos plus their CCTV-like damaged copies (``valence_features.py``
conditions) of the training persons only, so the head learns faces as cameras
see them; each condition is also scored on its own.

Candidates (all heads are tiny and train in seconds with torch, full batch,
L-BFGS, class-balanced loss so each valence counts equally):

- ``rule``: the old blendshape rule (``classify_blendshapes``), for reference;
- ``yolo-rule``: the YOLO expression classes mapped to valence (issue's mapping);
- ``lr-blend``: softmax regression on the 52 blendshapes;
- ``lr-full``: softmax regression on blendshapes + geometry + |pose|;
- ``mlp-full``: one hidden layer (32, tanh) on the same inputs;
- ``lr-yolo`` / ``lr-full+yolo``: with the YOLO class scores (clean only).

Calibration: temperature scaling, fitted for each fold on the other folds'
out-of-fold logits (so a fold never calibrates on itself); ECE before/after.
Abstention: on the calibrated top probability, the threshold is the highest one
that keeps clean coverage ≥ ``TARGET_COVERAGE`` on the out-of-fold curve.

``--write`` trains the chosen head on all persons and writes
``detectors/models/valence_head.npz`` (plain arrays, ``allow_pickle=False``)
and prints its SHA-256 for ``detectors/registry.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from storelens.detectors.appearance import PREPROCESS  # noqa: E402
from storelens.detectors.expression_readers import classify_blendshapes  # noqa: E402
from storelens.detectors.model_card import CARD_FILE  # noqa: E402
from storelens.detectors.offline.evaluation import (  # noqa: E402
    EMOTION_VALENCE,
    Outcome,
    expected_calibration_error,
    is_holdout_person,
    valence_metrics,
)
from storelens.detectors.types import VALENCES, Valence  # noqa: E402
from storelens.detectors.valence import HEAD_FILE, ValenceHead  # noqa: E402

SEED = 7
# What the product ships: a softmax regression on the expression trunk's pooled
# features. It won the comparison (README, "Expression model"): the landmark
# features add nothing on top of it, and it needs no landmarker pass per face.
SHIPPED = "lr-cnn"
DEFAULT_CANDIDATES = ("lr-blend", "lr-full", "lr-yolo", "lr-full+yolo", "lr-cnn", "lr-full+cnn")
FOLDS = 5
MAX_FALSE_FRUSTRATED = 0.09  # the target is ≤ 10 % of calm faces read as frustrated
# On the camera-like copies (one face, no track: the resting-face baseline is not there
# to help), the same bound; relaxed only as far as photo frustrated recall allows.
MAX_FALSE_FRUSTRATED_CAMERA = 0.10
MIN_FRUSTRATED_RECALL = 0.71  # the photo target is ≥ 70 %
MIN_SATISFIED_RECALL = 0.80
TARGET_COVERAGE = 0.92  # the target is ≥ 90 %; the margin is for real cameras
CONDITIONS = ("clean", "camera", "px64", "px48", "px40", "px32", "jpeg30", "grey", "blur")
# Issue 17: trained on the clean photos and their camera-like copies only (the other
# damaged copies are scored, not trained on). Measured with every condition in
# training, the head kept its photo numbers and still read calm camera faces as
# frustrated; the camera copies are what moved that (README, "Expression model").
TRAIN_CONDITIONS = ("clean", "camera", "blur")
YOLO_CLASSES = ("Anger", "Contempt", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
YOLO_EMOTION = {
    "Anger": "anger",
    "Contempt": "contempt",
    "Disgust": "disgust",
    "Fear": "fear",
    "Happy": "happiness",
    "Neutral": "neutral",
    "Sad": "sadness",
    "Surprise": "surprise",
}


def features_path(condition: str, kind: str = "appearance") -> Path:
    from storelens.kernel.paths import storelens_home

    name = "features" if kind == "landmarks" else kind
    return storelens_home() / "valence" / f"{name}-{condition}.npz"


def load(condition: str) -> dict[str, np.ndarray]:
    """The condition's appearance vectors, plus landmark features where extracted."""
    path = features_path(condition)
    if not path.is_file():
        sys.exit(f"{path}: missing; run scripts/valence_features.py --conditions {condition}")
    with np.load(path, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    data["cnn"] = data.pop("appearance")
    extra = features_path(condition, "landmarks")
    if extra.is_file():
        with np.load(extra, allow_pickle=False) as f:
            if (f["images"] == data["images"]).all():
                for k in ("blendshape_names", "blendshapes", "geometry", "pose", "yolo"):
                    data[k] = f[k]
    if condition != "clean":
        data.pop("yolo", None)  # YOLO class scores are extracted for clean photos only
    return data


def person_folds(persons: np.ndarray, k: int = FOLDS, seed: int = SEED) -> np.ndarray:
    """Fold index per photo: persons shuffled, then greedily to the lightest fold."""
    rng = np.random.default_rng(seed)
    unique, counts = np.unique(persons, return_counts=True)
    order = rng.permutation(len(unique))
    # Biggest persons first (stable within equal sizes) so folds end up even.
    order = order[np.argsort(-counts[order], kind="stable")]
    load_ = np.zeros(k, int)
    fold_of = {}
    for i in order:
        f = int(np.argmin(load_))
        fold_of[unique[i]] = f
        load_[f] += counts[i]
    return np.array([fold_of[p] for p in persons])


def targets(emotions: np.ndarray) -> np.ndarray:
    return np.array([VALENCES.index(EMOTION_VALENCE[e]) for e in emotions])


def inputs(data: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """The candidate's input matrix: its feature groups side by side."""
    groups = {
        "blend": lambda: data["blendshapes"],
        "full": lambda: np.concatenate(
            [data["blendshapes"], data["geometry"], np.abs(data["pose"]) / 45.0], axis=1
        ),
        "yolo": lambda: data["yolo"],
        "cnn": lambda: data["cnn"],
    }
    return np.concatenate([groups[part]() for part in kind.split("+")], axis=1)


def _needs(kind: str) -> tuple[str, ...]:
    needs = {
        "yolo": ("yolo",),
        "cnn": ("cnn",),
        "full": ("blendshapes",),
        "blend": ("blendshapes",),
    }
    return tuple(k for part in kind.split("+") for k in needs[part])


def fit_head(x: np.ndarray, y: np.ndarray, hidden: int, l2: float, seed: int = SEED) -> ValenceHead:
    torch.manual_seed(seed)
    mean = x.mean(axis=0)
    std = x.std(axis=0) + 1e-6
    xt = torch.tensor((x - mean) / std, dtype=torch.float64)
    yt = torch.tensor(y)
    counts = np.bincount(y, minlength=3).astype(np.float64)
    weight = torch.tensor(len(y) / (3 * np.maximum(counts, 1)))
    dims = [x.shape[1], *([hidden] if hidden else []), 3]
    layers = []
    for i in range(len(dims) - 1):
        w = torch.zeros(dims[i], dims[i + 1], dtype=torch.float64)
        if hidden:
            torch.nn.init.xavier_uniform_(w)
        layers.append(
            (w.requires_grad_(), torch.zeros(dims[i + 1], dtype=torch.float64).requires_grad_())
        )
    params = [p for pair in layers for p in pair]
    opt = torch.optim.LBFGS(params, max_iter=500, line_search_fn="strong_wolfe")

    def forward(inp: torch.Tensor) -> torch.Tensor:
        h = inp
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = torch.tanh(h)
        return h

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(xt), yt, weight=weight)
        loss = loss + l2 * sum((w**2).sum() for w, _ in layers)
        loss.backward()
        return loss

    opt.step(closure)
    return ValenceHead(
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        weights=[w.detach().numpy().astype(np.float32) for w, _ in layers],
        biases=[b.detach().numpy().astype(np.float32) for _, b in layers],
        temperature=1.0,
        abstain_below=0.0,
        feature_names=(),
    )


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The T > 0 minimising NLL of softmax(logits / T); a grid is plenty for one scalar."""
    best, best_nll = 1.0, np.inf
    for t in np.exp(np.linspace(np.log(0.3), np.log(5.0), 200)):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_validate(
    kind: str,
    hidden: int,
    l2: float,
    sets: dict[str, dict[str, np.ndarray]],
    folds: np.ndarray,
    train_conditions: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """Out-of-fold logits per condition (NaN rows where the face had no features)."""
    y = targets(sets["clean"]["emotion"])
    oof = {c: np.full((len(y), 3), np.nan) for c in sets}
    for k in range(FOLDS):
        xs, ys = [], []
        for c in train_conditions:
            x = inputs(sets[c], kind)
            ok = (folds != k) & np.isfinite(x).all(axis=1)
            xs.append(x[ok])
            ys.append(y[ok])
        head = fit_head(np.concatenate(xs), np.concatenate(ys), hidden, l2)
        for c, data in sets.items():
            x = inputs(data, kind)
            sel = (folds == k) & np.isfinite(x).all(axis=1)
            oof[c][sel] = head.logits(x[sel])
    return oof


def cross_fitted_probs(
    oof: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Probabilities per condition, each fold calibrated on the other folds (clean+damaged)."""
    temps = []
    out = {c: np.full_like(v, np.nan) for c, v in oof.items()}
    for k in range(FOLDS):
        logits = np.concatenate([v[(folds != k) & np.isfinite(v[:, 0])] for v in oof.values()])
        labels = np.concatenate([y[(folds != k) & np.isfinite(v[:, 0])] for v in oof.values()])
        t = fit_temperature(logits, labels)
        temps.append(t)
        for c, v in oof.items():
            sel = (folds == k) & np.isfinite(v[:, 0])
            out[c][sel] = softmax(v[sel] / t)
    return out, temps


def outcomes(
    probs: np.ndarray,
    y: np.ndarray,
    threshold: float,
    weights: tuple[float, ...] = (1, 1, 1),
    min_satisfied: float = 0.0,
) -> list[Outcome]:
    """As the reader decides (``detectors.valence.decide``): argmax of p × weights, a
    satisfied under ``min_satisfied`` reads neutral; abstain below ``threshold``."""
    res = []
    for p, t in zip(probs, y, strict=True):
        said = int(np.argmax(p * np.asarray(weights))) if np.isfinite(p[0]) else -1
        confidence = float(p[said]) if said >= 0 else 0.0
        if said == 0 and confidence < min_satisfied:
            said = 1  # no clear smile: neutral, at the same confidence
        if said < 0 or confidence < threshold:
            res.append(Outcome(VALENCES[t], Valence.UNKNOWN, 0.0))
        else:
            res.append(Outcome(VALENCES[t], VALENCES[said], confidence))
    return res


def satisfied_bar(probs: np.ndarray, y: np.ndarray, threshold: float, weights) -> float:
    """The highest P(satisfied) bar (issue 17) that keeps clean balanced accuracy ≥ 80 %
    and satisfied recall ≥ MIN_SATISFIED_RECALL: calm camera faces with a faint mouth
    curve read satisfied at 0.4-0.8, grins above 0.9."""
    best = 0.0
    for bar in np.arange(0.5, 0.81, 0.05):
        m = valence_metrics(outcomes(probs, y, threshold, weights, float(bar)))
        if m.balanced_accuracy >= 0.80 and m.recall["satisfied"] >= MIN_SATISFIED_RECALL:
            best = float(round(bar, 2))
    return best


def decision_rule(
    probs: np.ndarray, y: np.ndarray, camera: np.ndarray | None = None
) -> tuple[float, float]:
    """(frustrated decision weight, abstention threshold) from the out-of-fold curve.

    The weight is the largest (≤ 1, i.e. the least change to the argmax) for which,
    at the highest threshold that keeps coverage ≥ TARGET_COVERAGE, calm faces read
    as frustrated stay ≤ MAX_FALSE_FRUSTRATED on the clean photos and (issue 17)
    ≤ MAX_FALSE_FRUSTRATED_CAMERA on their camera-like copies, where given.
    """
    fallback = best = None
    for w in np.arange(1.0, 0.49, -0.02):
        weights = (1.0, 1.0, float(w))
        chosen = np.where(
            np.isfinite(probs[:, 0]),
            np.take_along_axis(
                np.nan_to_num(probs), np.argmax(np.nan_to_num(probs) * weights, 1)[:, None], 1
            )[:, 0],
            -1.0,
        )
        threshold = 0.0
        for t in np.arange(0.34, 0.95, 0.01)[::-1]:
            if (chosen >= t).mean() >= TARGET_COVERAGE:
                threshold = float(round(t, 2))
                break
        m = valence_metrics(outcomes(probs, y, threshold, weights))
        fallback = fallback or (float(round(w, 2)), threshold)
        on_camera = (
            0.0
            if camera is None
            else valence_metrics(outcomes(camera, y, threshold, weights)).false_frustrated_rate
        )
        photo_ok = m.false_frustrated_rate <= MAX_FALSE_FRUSTRATED
        if photo_ok and on_camera <= MAX_FALSE_FRUSTRATED_CAMERA:
            return float(round(w, 2)), threshold
        if photo_ok and m.recall["frustrated"] >= MIN_FRUSTRATED_RECALL:
            # Camera bound not reached yet: keep the lowest weight that still meets the
            # photo targets (the most protection for calm camera faces they allow).
            best = (float(round(w, 2)), threshold)
    return best or fallback or (1.0, 0.0)


def row(name: str, outs: list[Outcome]) -> str:
    m = valence_metrics(outs)
    r = m.recall
    return (
        f"{name:<28} {m.coverage:6.1%} {m.balanced_accuracy:7.1%} {r['satisfied']:7.1%} "
        f"{r['neutral']:7.1%} {r['frustrated']:7.1%} {m.false_frustrated_rate:7.1%}"
    )


HEADER = f"{'':<28} {'cover':>6} {'bal.acc':>7} {'sat':>7} {'neu':>7} {'fru':>7} {'falseF':>7}"


def rule_outcomes(data: dict[str, np.ndarray], y: np.ndarray) -> list[Outcome]:
    names = [str(n) for n in data["blendshape_names"]]
    res = []
    for shapes, t in zip(data["blendshapes"], y, strict=True):
        if not np.isfinite(shapes[0]):
            res.append(Outcome(VALENCES[t], Valence.UNKNOWN))
            continue
        reading = classify_blendshapes(dict(zip(names, shapes.tolist(), strict=True)))
        said = reading.valence if reading.confidence >= 0.5 else Valence.UNKNOWN
        res.append(Outcome(VALENCES[t], said, reading.confidence))
    return res


def yolo_outcomes(data: dict[str, np.ndarray], y: np.ndarray) -> list[Outcome]:
    res = []
    for scores, t in zip(data["yolo"], y, strict=True):
        if not np.isfinite(scores[0]) or scores.sum() <= 0:
            res.append(Outcome(VALENCES[t], Valence.UNKNOWN))
            continue
        label = YOLO_CLASSES[int(np.argmax(scores))]
        res.append(Outcome(VALENCES[t], EMOTION_VALENCE[YOLO_EMOTION[label]]))
    return res


def threshold_for_coverage(probs: np.ndarray, target: float) -> float:
    """Highest threshold on the top probability that keeps coverage ≥ target."""
    top = np.where(np.isfinite(probs[:, 0]), np.nanmax(probs, axis=1), -1.0)
    for t in np.arange(0.34, 0.95, 0.01)[::-1]:
        if (top >= t).mean() >= target:
            return float(round(t, 2))
    return 0.0


def camera_table() -> dict[str, dict[str, object]]:
    """The shipped head through the product path on every installed labelled clip.

    ``tests/data_faces/camera/<clip>.csv`` (issue 17): detection, tracking, face,
    reader, resting-face baseline and smoothing, every frame read. Per reading.
    """
    from storelens.detectors.offline.clip_evaluation import (
        evaluate_clip,
        labelled_camera_clips,
        read_track_labels,
    )

    out: dict[str, dict[str, object]] = {}
    for stem, clip in labelled_camera_clips().items():
        labels = REPO / "tests" / "data_faces" / "camera" / f"{stem}.csv"
        if clip is None or not labels.is_file():
            continue
        result = evaluate_clip(clip, read_track_labels(labels), "valence-head")
        m = result["metrics"]
        out[stem] = {
            k: m[k]
            for k in (
                "n",
                "coverage",
                "calm_read_neutral",
                "calm_read_frustrated",
                "grins_read_satisfied",
                "unreadable_faces",
                "unreadable_abstained",
                "ms_per_face",
            )
        }
        out[stem]["tracks"] = {t["track"]: t["valence"] for t in result["tracks"]}
        print(f"  camera {stem}: {out[stem]}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="train on all and write the model")
    parser.add_argument("--candidates", default=",".join(DEFAULT_CANDIDATES))
    parser.add_argument("--json", type=Path, help="also write the metrics as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)  # reproducible sums
    everything = {c: load(c) for c in CONDITIONS if features_path(c).is_file()}
    holdout = np.array([is_holdout_person(str(p)) for p in everything["clean"]["person"]])
    # The held-out persons (about 1 in 10) are never trained on: the test suite
    # measures the shipped head on them.
    sets = {
        c: {k: (v[~holdout] if v.ndim and len(v) == len(holdout) else v) for k, v in d.items()}
        for c, d in everything.items()
    }
    clean = sets["clean"]
    y = targets(clean["emotion"])
    folds = person_folds(clean["person"])
    persons = clean["person"]
    for k in range(FOLDS):
        assert not set(persons[folds == k]) & set(persons[folds != k]), "folds share a person"
    print(
        f"{len(y)} faces, {len(set(persons))} persons, folds {np.bincount(folds).tolist()}; "
        f"{int(holdout.sum())} faces of held-out persons kept out of all of it"
    )
    print(f"conditions: {', '.join(sets)}; valence counts {np.bincount(y).tolist()} (sat/neu/fru)")
    print("\nReference readers (no training), clean photos:")
    print(HEADER)
    if "blendshape_names" in clean:  # landmark features extracted (--landmarks)
        print(row("rule (old default)", rule_outcomes(clean, y)))
    have_yolo = "yolo" in clean and np.isfinite(clean["yolo"]).all(axis=1).any()
    if have_yolo:
        print(row("yolo classes → valence", yolo_outcomes(clean, y)))

    specs: dict[str, tuple[str, int, float]] = {
        "lr-blend": ("blend", 0, 1e-3),
        "lr-full": ("full", 0, 1e-3),
        "mlp-full": ("full", 32, 1e-3),
        "lr-yolo": ("yolo", 0, 1e-3),
        "lr-full+yolo": ("full+yolo", 0, 1e-3),
        "lr-cnn": ("cnn", 0, 3e-1),
        "lr-full+cnn": ("full+cnn", 0, 3e-1),
        "lr-full+cnn+yolo": ("full+cnn+yolo", 0, 1e-2),
        "mlp-full+cnn": ("full+cnn", 64, 1e-2),
    }
    report: dict[str, object] = {}
    for name in args.candidates.split(","):
        kind, hidden, l2 = specs[name]
        use = {c: d for c, d in sets.items() if all(k in d for k in _needs(kind))}
        if "clean" not in use:
            print(f"\n{name}: skipped (run valence_features.py --landmarks --yolo for its inputs)")
            continue
        train_conditions = tuple(c for c in TRAIN_CONDITIONS if c in use)
        oof = cross_validate(kind, hidden, l2, use, folds, train_conditions)
        probs, temps = cross_fitted_probs(oof, y, folds)
        raw = softmax(np.nan_to_num(oof["clean"]))
        ok = np.isfinite(oof["clean"][:, 0])
        ece_before = expected_calibration_error(raw[ok].max(1), raw[ok].argmax(1) == y[ok])
        ece_after = expected_calibration_error(
            probs["clean"][ok].max(1), probs["clean"][ok].argmax(1) == y[ok]
        )
        w_fru, threshold = decision_rule(probs["clean"], y, probs.get("camera"))
        weights = (1.0, 1.0, w_fru)
        bar = satisfied_bar(probs["clean"], y, threshold, weights)
        print(
            f"\n{name}: temperature per fold {[round(t, 2) for t in temps]}, "
            f"ECE clean {ece_before:.3f} → {ece_after:.3f}, abstain below {threshold:.2f}, "
            f"frustrated decision weight {w_fru:.2f}, satisfied bar {bar:.2f}"
        )
        print(HEADER)
        print(row(f"{name} clean, no abstention", outcomes(probs["clean"], y, 0.0)))
        plain = threshold_for_coverage(probs["clean"], TARGET_COVERAGE)
        print(row(f"{name} clean, plain argmax", outcomes(probs["clean"], y, plain)))
        entry = {
            "temperature": temps,
            "ece_before": ece_before,
            "ece_after": ece_after,
            "threshold": threshold,
            "frustrated_weight": w_fru,
            "satisfied_bar": bar,
            "conditions": {},
        }
        for c in use:
            outs = outcomes(probs[c], y, threshold, weights, bar)
            print(row(f"{name} {c}", outs))
            entry["conditions"][c] = valence_metrics(outs).as_dict()  # type: ignore[index]
        print(
            "  coverage → balanced accuracy (clean):",
            ", ".join(
                f"{valence_metrics(outcomes(probs['clean'], y, t)).coverage:.0%}→"
                f"{valence_metrics(outcomes(probs['clean'], y, t)).balanced_accuracy:.1%}"
                for t in (0.0, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)
            ),
        )
        report[name] = entry
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    if args.write:
        if SHIPPED not in report:
            sys.exit(f"--write needs {SHIPPED} in --candidates")
        kind, hidden, l2 = specs[SHIPPED]
        xs, ys = [], []
        for c in (c for c in TRAIN_CONDITIONS if c in sets):
            x = inputs(sets[c], kind)
            ok = np.isfinite(x).all(axis=1)
            xs.append(x[ok])
            ys.append(y[ok])
        head = fit_head(np.concatenate(xs), np.concatenate(ys), hidden, l2)
        entry = report[SHIPPED]
        names = [f"trunk:{i}" for i in range(clean["cnn"].shape[1])]
        final = ValenceHead(
            mean=head.mean,
            std=head.std,
            weights=head.weights,
            biases=head.biases,
            temperature=float(np.median(entry["temperature"])),  # type: ignore[index]
            abstain_below=float(entry["threshold"]),  # type: ignore[index]
            feature_names=tuple(names),
            decision_weights=(1.0, 1.0, float(entry["frustrated_weight"])),  # type: ignore[index]
            preprocess=PREPROCESS,
            min_satisfied=float(entry["satisfied_bar"]),  # type: ignore[index]
        )
        final.save(HEAD_FILE)
        held = everything["clean"]
        x = inputs(held, kind)[holdout]
        yh = targets(held["emotion"])[holdout]
        ok = np.isfinite(x).all(axis=1)
        probs = np.full((len(yh), 3), np.nan)
        probs[ok] = final.probabilities(x[ok])
        print(
            "\nShipped head on the held-out persons (features cached; the test reads the images):"
        )
        print(HEADER)
        print(
            row(
                "held-out clean",
                outcomes(
                    probs, yh, final.abstain_below, final.decision_weights, final.min_satisfied
                ),
            )
        )
        digest = hashlib.sha256(HEAD_FILE.read_bytes()).hexdigest()
        print(f"wrote {HEAD_FILE} ({HEAD_FILE.stat().st_size} bytes) sha256 {digest}")
        registry_file = REPO / "detectors" / "registry.py"
        text = registry_file.read_text(encoding="utf-8")
        start = text.index('VALENCE_HEAD_SHA256 = "') + len('VALENCE_HEAD_SHA256 = "')
        registry_file.write_text(text[:start] + digest + text[start + 64 :], encoding="utf-8")
        import importlib

        import storelens.detectors.registry as registry

        importlib.reload(registry)  # the camera table below loads the new head
        print("wrote that hash to detectors/registry.py (VALENCE_HEAD_SHA256)")
        card = {
            "model": "valence-head",
            "sha256": digest,
            "reads": "facial expression valence (satisfied / neutral / frustrated), never "
            "identity and never a person's inner emotion",
            "architecture": "softmax regression on the pooled feature maps of the YOLO face "
            f"expression model's trunk ({clean['cnn'].shape[1]} values per face, "
            "detectors/appearance.py), temperature-scaled",
            "training_data": (
                f"../shared/expressions: {len(y)} labelled photos of {len(set(persons))} "
                "persons (muxspace/facial_expressions, Apache-2.0: mostly press photos, "
                "posed and spontaneous, mostly adults, many grey-scale), plus one "
                "camera-like copy of each (30-72 px face, flat light, GIF dither, JPEG); "
                f"faces cut eye-level and grey ({PREPROCESS}); also scored on "
                f"{', '.join(c for c in sets if c not in TRAIN_CONDITIONS)}; "
                f"{int(holdout.sum())} photos of held-out persons kept for the test suite"
            ),
            "valence_mapping": "satisfied = happiness; neutral = neutral, surprise; "
            "frustrated = anger, contempt, disgust, fear, sadness",
            "evaluation": "grouped 5-fold cross-validation by person (seed 7): no person "
            "is scored by a model that saw them",
            "temperature": final.temperature,
            "abstain_below": final.abstain_below,
            "frustrated_decision_weight": final.decision_weights[2],
            "min_satisfied": final.min_satisfied,
            "ece_before": entry["ece_before"],
            "ece_after": entry["ece_after"],
            "conditions": entry["conditions"],
            "camera": camera_table(),
            "camera_note": "camera footage, product path (detection, tracking, face, reader, "
            "per-track resting-face baseline, smoothing), labels in tests/data_faces/camera: "
            "calm faces and one surprise only; no frustrated and no grinning shopper is in "
            "any footage we have, so frustrated recall and grins on camera are unmeasured here",
        }
        CARD_FILE.write_text(json.dumps(card, indent=1, default=float) + "\n", encoding="utf-8")
        print(f"wrote {CARD_FILE}")


if __name__ == "__main__":
    main()
