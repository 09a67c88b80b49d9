"""The learned valence head: appearance vector → calibrated P(satisfied, neutral, frustrated).

Why a learned head and not the blendshape rule: on person-disjoint 5-fold
cross-validation over ``../shared/expressions`` the rule caught one unhappy face
in ten and the YOLO expression classes raised an alarm on most calm faces
(``scripts/train_valence.py`` prints the table; README, "Expression model").
The head is a softmax regression on the expression trunk's pooled features
(``detectors.appearance``), trained by that script on clean and CCTV-damaged
copies of the photos; its logits are divided by a temperature fitted on
out-of-fold predictions, so ``confidence`` means what it says (a reading at 0.8
is right about 8 times in 10 on people it never saw).

The weights are a registry model (``valence-head``): a plain ``.npz`` of float
arrays read with ``allow_pickle=False``, so loading it can never run code, and
its SHA-256 is checked before it is read.

Abstention (``Valence.UNKNOWN``) is the reader's: a face shorter than
``MIN_FACE_PX`` or a calibrated top probability below the head's
``abstain_below`` (chosen by the training script from the coverage/accuracy
curve).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from storelens.detectors.errors import ModelError
from storelens.detectors.registry import resolve_model
from storelens.detectors.types import VALENCES, Valence

HEAD_FILE = Path(__file__).resolve().parent / "models" / "valence_head.npz"
# Written beside the head by the training script: what it was trained on and how it
# measured (person-disjoint CV). The Privacy page's model card shows it.


@dataclass(frozen=True)
class ValenceHead:
    """Standardise, (optional tanh hidden layers), linear → logits / temperature."""

    mean: np.ndarray
    std: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    temperature: float
    abstain_below: float
    feature_names: tuple[str, ...]
    # Per-valence weights for the *decision* only (argmax of p × w); the probabilities,
    # and so the expected counts, stay calibrated. The training script lowers the
    # frustrated weight until calm faces read as frustrated stay under its target.
    decision_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # How the face crops it was trained on were made (detectors.appearance.PREPROCESS);
    # heads from before issue 17 read colour, untilted crops and say "plain".
    preprocess: str = "plain"
    # Below this P(satisfied) a satisfied read is no clear smile and reads neutral
    # (see ``decide``); chosen by the training script, 0 for older heads.
    min_satisfied: float = 0.0

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = (np.asarray(x, dtype=np.float32) - self.mean) / self.std
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < len(self.weights) - 1:
                h = np.tanh(h)
        return h

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """(N, 3) calibrated probabilities in ``VALENCES`` order."""
        z = self.logits(np.atleast_2d(x)) / self.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "mean": self.mean,
            "std": self.std,
            "temperature": np.float32(self.temperature),
            "abstain_below": np.float32(self.abstain_below),
            "feature_names": np.array(self.feature_names, dtype=np.str_),
            "n_layers": np.int32(len(self.weights)),
            "decision_weights": np.array(self.decision_weights, dtype=np.float32),
            "preprocess": np.array(self.preprocess, dtype=np.str_),
            "min_satisfied": np.float32(self.min_satisfied),
        }
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"] = w
            arrays[f"b{i}"] = b
        with path.open("wb") as fh:  # np.savez on a handle: no ".npz" suffix games
            np.savez(fh, **arrays)

    @classmethod
    def load(cls, path: Path) -> ValenceHead:
        try:
            with np.load(path, allow_pickle=False) as f:
                n = int(f["n_layers"])
                head = cls(
                    mean=f["mean"].astype(np.float32),
                    std=f["std"].astype(np.float32),
                    weights=[f[f"w{i}"].astype(np.float32) for i in range(n)],
                    biases=[f[f"b{i}"].astype(np.float32) for i in range(n)],
                    temperature=float(f["temperature"]),
                    abstain_below=float(f["abstain_below"]),
                    feature_names=tuple(str(s) for s in f["feature_names"]),
                    decision_weights=tuple(  # type: ignore[arg-type]
                        float(w) for w in f["decision_weights"]
                    )
                    if "decision_weights" in f.files
                    else (1.0, 1.0, 1.0),
                    preprocess=str(f["preprocess"]) if "preprocess" in f.files else "plain",
                    min_satisfied=float(f["min_satisfied"]) if "min_satisfied" in f.files else 0.0,
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(
                f"{path}: not a valence head file ({exc}); retrain it with "
                "scripts/train_valence.py --write"
            ) from exc
        if head.weights[0].shape[0] != len(head.feature_names) or head.biases[-1].shape != (3,):
            raise ModelError(f"{path}: layer shapes do not match its feature names")
        return head


def load_valence_head(path: Path | None = None) -> ValenceHead:
    """The registry's ``valence-head`` (hash-checked), or ``path`` if given."""
    return ValenceHead.load(path or resolve_model("valence-head"))


def probabilities_by_valence(head: ValenceHead, vector: np.ndarray) -> dict[Valence, float]:
    """One face's calibrated probabilities, keyed by valence."""
    p = head.probabilities(vector)[0]
    return dict(zip(VALENCES, (float(v) for v in p), strict=True))


def decide(head: ValenceHead, probs: dict[Valence, float]) -> tuple[Valence, float]:
    """The valence read and its confidence.

    Argmax of probability × the head's decision weight. Then (issue 17) a satisfied
    read below the head's ``min_satisfied`` is no clear smile: it reads neutral at the
    same confidence (so the abstention threshold treats it as before, and no face
    that was abstained on becomes answered). Calm camera faces with a faint mouth
    curve read satisfied at P 0.4-0.8; grins read above 0.9.
    """
    weights = dict(zip(VALENCES, head.decision_weights, strict=True))
    top = max(probs, key=lambda v: probs[v] * weights[v])
    if top is Valence.SATISFIED and probs[top] < head.min_satisfied:
        return Valence.NEUTRAL, probs[Valence.SATISFIED]
    return top, probs[top]
