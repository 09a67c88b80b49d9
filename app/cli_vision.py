"""Vision commands of the ``storelens`` CLI: analyze, expression, evaluate, bench."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from storelens.kernel.errors import StoreLensError


def _parse_line(text: str, index: int) -> dict:
    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(
            f"--line {text!r}: expected x1,y1,x2,y2 in pixels, e.g. 0,200,480,200"
        ) from None
    return {"name": f"line{index + 1}", "start": (x1, y1), "end": (x2, y2)}


def _parse_zone(text: str, index: int) -> dict:
    """``NAME[:KIND]=x1,y1,x2,y2,x3,y3,...`` or just the coordinates."""
    head, _, coords = text.rpartition("=")
    name, _, kind = head.partition(":")
    try:
        values = [float(v) for v in coords.split(",")]
    except ValueError:
        values = []
    if len(values) < 6 or len(values) % 2:
        raise typer.BadParameter(
            f"--zone {text!r}: expected [NAME[:KIND]=]x1,y1,x2,y2,x3,y3[,...] (≥ 3 points), "
            "e.g. queue:queue=10,100,200,100,200,260,10,260"
        )
    zone = {
        "name": name or f"zone{index + 1}",
        "polygon": list(zip(values[::2], values[1::2], strict=True)),
    }
    if kind:
        zone["kind"] = kind
    return zone


DeviceOpt = Annotated[
    str,
    typer.Option(
        help="where the person model runs: cpu (OpenVINO) | openvino-gpu | cuda[:N] (PyTorch)"
    ),
]
ReaderOpt = Annotated[
    str, typer.Option(help="valence-head (default) | mediapipe-blendshapes | yolo-expression")
]


def register(app: typer.Typer) -> None:
    @app.command()
    def analyze(
        path: Annotated[Path, typer.Argument(help="video file, GIF or image folder")],
        line: Annotated[
            list[str] | None, typer.Option(help="entrance line x1,y1,x2,y2 (repeatable)")
        ] = None,
        zone: Annotated[
            list[str] | None,
            typer.Option(help="zone [NAME[:KIND]=]x1,y1,x2,y2,x3,y3,... (repeatable)"),
        ] = None,
        faces: Annotated[bool, typer.Option(help="detect faces and read expressions")] = True,
        device: DeviceOpt = "cpu",
        as_json: Annotated[
            bool, typer.Option("--json", help="print exactly one JSON object")
        ] = False,
    ) -> None:
        """Run one clip through the full pipeline as fast as possible and summarise it."""
        from pydantic import ValidationError
        from storelens.detectors.offline.analyze import analyze_clip
        from storelens.detectors.shared_models import PipelineOptions
        from storelens.kernel.config import LineConfig, ZoneConfig

        if not path.exists():
            raise typer.BadParameter(f"{path}: no such file or folder")
        try:
            lines = [LineConfig(**_parse_line(t, i)) for i, t in enumerate(line or [])]
            zones = [ZoneConfig(**_parse_zone(t, i)) for i, t in enumerate(zone or [])]
        except ValidationError as exc:
            raise typer.BadParameter(str(exc)) from None
        try:
            summary = analyze_clip(
                str(path),
                lines,
                zones,
                options=PipelineOptions(workers=1, faces=faces),
                device=device,
            )
        except StoreLensError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        data = summary.as_dict()
        if as_json:
            typer.echo(json.dumps(data))
            return
        for key, value in data.items():
            typer.echo(f"{key:>15}: {value}")

    @app.command()
    def expression(
        image: Annotated[Path, typer.Argument(help="a photo (JPEG/PNG)")],
        reader: ReaderOpt = "valence-head",
        as_json: Annotated[
            bool, typer.Option("--json", help="print exactly one JSON object")
        ] = False,
    ) -> None:
        """Faces in a photo and each face's expression, valence and confidence."""
        import cv2
        from storelens.detectors.expression_readers import make_expression_reader
        from storelens.detectors.expressions import read_faces_in_image
        from storelens.detectors.faces import make_face_detector

        frame = cv2.imread(str(image))
        if frame is None:
            raise typer.BadParameter(f"{image}: not a readable image (JPEG/PNG expected)")
        try:
            with (
                make_face_detector() as detector,
                make_expression_reader(reader) as expression_reader,
            ):
                faces = read_faces_in_image(frame, detector, expression_reader)
        except (StoreLensError, ValueError) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps({"faces": faces}))
            return
        typer.echo(f"{len(faces)} face(s) in {image}")
        for face in faces:
            typer.echo(
                f"  {face['box']}  {face['label']:<10} {face['valence']:<10} {face['confidence']:.2f}"
            )

    evaluate_app = typer.Typer(
        help="Measure StoreLens on your own labelled data.", no_args_is_help=True
    )
    app.add_typer(evaluate_app, name="evaluate")

    @evaluate_app.command("expressions")
    def evaluate_expressions(
        labels: Annotated[
            Path | None,
            typer.Argument(
                help="photos: CSV with image,emotion (8 emotion names) or image,valence"
            ),
        ] = None,
        images: Annotated[
            Path | None, typer.Option(help="photos: folder the image paths are relative to")
        ] = None,
        clip: Annotated[
            Path | None, typer.Option(help="camera footage: a video file or GIF")
        ] = None,
        tracks: Annotated[
            Path | None,
            typer.Option(
                help="camera footage: CSV track,first_frame,last_frame,x1,y1,x2,y2,label "
                "(the face box at first_frame; label satisfied/neutral/frustrated/unreadable)"
            ),
        ] = None,
        reader: ReaderOpt = "valence-head",
        as_json: Annotated[
            bool, typer.Option("--json", help="print exactly one JSON object")
        ] = False,
    ) -> None:
        """Read labelled faces the way the product does and print the metrics.

        Photos: LABELS --images DIR. Camera footage: --clip CLIP --tracks LABELS.csv
        (detection, tracking, face, reader, resting-face baseline and smoothing, as live).
        """
        from storelens.detectors.offline.evaluation import LabelsError

        if clip is not None or tracks is not None:
            if clip is None or tracks is None or labels is not None or images is not None:
                raise typer.BadParameter(
                    "camera footage takes --clip CLIP and --tracks LABELS.csv (and no photo "
                    "labels or --images)"
                )
            if not clip.is_file():
                typer.secho(f"error: --clip {clip}: no such file", fg=typer.colors.RED, err=True)
                raise typer.Exit(2)
            from storelens.detectors.offline.clip_evaluation import evaluate_clip, read_track_labels

            try:
                result = evaluate_clip(clip, read_track_labels(tracks), reader)
            except (LabelsError, StoreLensError, ValueError) as exc:
                typer.secho(f"error: {tracks}: {exc}", fg=typer.colors.RED, err=True)
                raise typer.Exit(2) from None
            if as_json:
                typer.echo(json.dumps(result))
                return
            _print_clip_result(result)
            return
        if labels is None or images is None:
            raise typer.BadParameter(
                "give photo labels and --images DIR, or --clip CLIP --tracks LABELS.csv"
            )
        from storelens.detectors.expression_readers import make_expression_reader
        from storelens.detectors.faces import make_face_detector
        from storelens.detectors.offline.evaluation import evaluate_images, read_labels

        if not images.is_dir():
            raise typer.BadParameter(f"--images {images}: no such folder")
        try:
            rows = read_labels(labels)
            # Models load once for the whole file.
            with (
                make_face_detector() as detector,
                make_expression_reader(reader) as expression_reader,
            ):
                result = evaluate_images(rows, images, detector, expression_reader)
        except (LabelsError, StoreLensError, ValueError) as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(result))
            return
        m = result["metrics"]
        typer.echo(f"{m['n']} faces, reader {m['reader']}, {m['ms_per_face']} ms per face")
        typer.echo(
            f"coverage {m['coverage']:.1%}  balanced valence accuracy "
            f"{m['balanced_valence_accuracy']:.1%}  false-frustrated {m['false_frustrated_rate']:.1%}"
        )
        for valence, recall in m["recall"].items():
            typer.echo(f"  recall {valence:<10} {recall:.1%}")
        typer.echo("confusion (truth → read):")
        for truth, said in result["confusion"].items():
            typer.echo(f"  {truth:<10} " + "  ".join(f"{k}={v}" for k, v in said.items()))

    @app.command()
    def bench(
        cameras: Annotated[
            int, typer.Option(min=1, max=64, help="number of looping cameras (config takes 64)")
        ] = 4,
        seconds: Annotated[
            float, typer.Option(min=5, max=3600, help="measuring time per mode")
        ] = 30.0,
        baseline: Annotated[
            bool, typer.Option(help="also run the plain YOLO.track + per-face loop")
        ] = True,
        imgsz: Annotated[
            int | None, typer.Option(help="person model input size (default: the config's)")
        ] = None,
        reader: Annotated[
            str | None,
            typer.Option(help="expression reader to measure instead of the default"),
        ] = None,
        scene: Annotated[
            str,
            typer.Option(help="demo: the demo cameras in turn | busy: all the most crowded clip"),
        ] = "demo",
        device: DeviceOpt = "cpu",
        precision: Annotated[
            str | None,
            typer.Option(help="person model fp32 | int8 (default: the config's)"),
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="print exactly one JSON object")
        ] = False,
    ) -> None:
        """Per-stage ms and aggregate analysed camera-frames/s on ../shared/media."""
        from storelens.detectors.offline.bench import SCENES, format_table, run_bench

        if precision not in (None, "fp32", "int8"):
            typer.secho(
                f"error: --precision {precision!r}: choose fp32 or int8",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2)
        if scene not in SCENES:
            typer.secho(
                f"error: --scene {scene!r}: choose one of {', '.join(SCENES)}",
                fg=typer.colors.RED,
                err=True,
            )
            raise typer.Exit(2)
        try:
            result = run_bench(cameras, seconds, baseline, imgsz, reader, scene, device, precision)
        except StoreLensError as exc:
            typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        typer.echo(json.dumps(result) if as_json else format_table(result))


def _share(value: object) -> str:
    return "–" if value is None or value != value else f"{value:.0%}"  # None or NaN


def _print_clip_result(result: dict) -> None:
    m = result["metrics"]
    typer.echo(
        f"{result['clip']}: {m['n']} readings of labelled faces, reader {m['reader']}, "
        f"{m['ms_per_face']} ms per face (detect + read, every frame)"
    )
    typer.echo(
        f"coverage {_share(m['coverage'])}  calm read neutral {_share(m['calm_read_neutral'])}  "
        f"calm read frustrated {_share(m['calm_read_frustrated'])}  grins read satisfied "
        f"{_share(m['grins_read_satisfied'])}"
    )
    typer.echo(
        f"unreadable faces: {m['unreadable_abstained']} of {m['unreadable_faces']} abstained on"
    )
    typer.echo("tracks (label → what the product ends up saying):")
    for t in result["tracks"]:
        typer.echo(
            f"  {t['track']:<12} frames {t['frames'][0]}-{t['frames'][1]:<5} {t['truth']:<10} → "
            f"{t['valence']:<10} {t['answered']}/{t['readings']} read {t['read_as']}"
        )
