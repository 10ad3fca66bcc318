"""Bad inputs through the command line: exit status 2, one line naming the file, nothing changed.

Every case runs ``biakit ...`` in-process in a fresh workspace of good inputs
after a setup step that plants one defect, and checks:

* exit status 2;
* stderr is exactly one line ``biakit: error: ...`` matching the expected
  pattern (the file or the parameter), no traceback;
* every file of the workspace is unchanged (sha256) and no file was added
  (no partial outputs).
"""

import json
import pickle
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import tifffile

from biakit.io import ImageMeta, write_image

# ---------------------------------------------------------------- file makers


def _put(ws: Path, rel: str, data: bytes) -> None:
    path = ws / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _good_tif_bytes(tmp: Path) -> bytes:
    write_image(tmp, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), ImageMeta("YX"))
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _huge_tif() -> bytes:
    """A 20-byte TIFF whose header claims a 4e9 x 4e9 16-bit image."""
    big = 4_000_000_000
    entries = [
        (256, 4, big), (257, 4, big), (258, 3, 16), (259, 3, 1), (262, 3, 1),
        (273, 4, 8), (277, 3, 1), (278, 4, big), (279, 4, 2),
    ]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, typ, val in entries:
        ifd += (
            struct.pack("<HHIHH", tag, typ, 1, val, 0)
            if typ == 3
            else struct.pack("<HHII", tag, typ, 1, val)
        )
    return b"II*\x00" + struct.pack("<I", 10) + b"\x00\x00" + ifd + struct.pack("<I", 0)


def _huge_npy() -> bytes:
    header = "{'descr': '<u2', 'fortran_order': False, 'shape': (4000000000, 4000000000), }"
    header = header + " " * (118 - len(header)) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()


def _npy_bytes(array: np.ndarray, ws: Path) -> bytes:
    tmp = ws / "_tmp.npy"
    np.save(tmp, array, allow_pickle=True)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def bad_file(kind: str, ws: Path, rel: str) -> None:
    """Plant a defective image file ``rel`` of the given kind."""
    if kind == "zero":
        _put(ws, rel, b"")
    elif kind == "truncated_tif":
        _put(ws, rel, _good_tif_bytes(ws / "_tmp.tif")[:300])
    elif kind == "garbage_tif":
        _put(ws, rel, b"II*\x00" + bytes(np.random.default_rng(0).integers(0, 256, 500, np.uint8)))
    elif kind == "huge_header_tif":
        _put(ws, rel, _huge_tif())
    elif kind == "truncated_png":
        write_image(ws / "_tmp.png", np.zeros((32, 32), np.uint8), ImageMeta("YX"))
        data = (ws / "_tmp.png").read_bytes()
        (ws / "_tmp.png").unlink()
        _put(ws, rel, data[: len(data) // 2])
    elif kind == "garbage_npy":
        _put(ws, rel, b"\x93NUMPY garbage")
    elif kind == "pickled_npy":
        _put(ws, rel, _npy_bytes(np.array([{"a": 1}, None], dtype=object), ws))
    elif kind == "huge_header_npy":
        _put(ws, rel, _huge_npy())
    elif kind == "one_d_npy":
        _put(ws, rel, _npy_bytes(np.zeros(16, np.float32), ws))
    elif kind == "six_d_npy":
        _put(ws, rel, _npy_bytes(np.zeros((1, 1, 1, 2, 4, 4), np.float32), ws))
    elif kind == "empty_npy":
        _put(ws, rel, _npy_bytes(np.zeros((0, 16), np.float32), ws))
    elif kind == "complex_npy":
        _put(ws, rel, _npy_bytes(np.zeros((16, 16), np.complex64), ws))
    elif kind == "four_d_no_axes":
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(ws / rel, np.zeros((2, 3, 16, 16), np.uint16), photometric="minisblack")
    elif kind == "negative_spacing":
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(
            ws / rel, np.zeros((3, 16, 16), np.uint8), imagej=True,
            metadata={"axes": "ZYX", "spacing": -2.0, "unit": "um"},
        )  # fmt: skip
    elif kind == "garbage_h5":
        _put(ws, rel.split(":")[0], b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    elif kind == "h5_no_dataset":
        import h5py

        (ws / rel.split(":")[0]).parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(ws / rel.split(":")[0], "w") as f:
            f["other"] = np.zeros((4, 4))
    elif kind == "empty_zarr":
        (ws / rel).mkdir(parents=True)
    elif kind == "folder_named_tif":
        (ws / rel).mkdir(parents=True)
        (ws / rel / "x.txt").write_text("x")
    else:
        raise AssertionError(kind)


# --------------------------------------------------------------------- cases


@dataclass
class Case:
    id: str
    args: list[str]
    expect: str
    setup: Callable[[Path], None] | None = None
    needs: tuple[str, ...] = ()  # "pixel" / "deep": model folders copied to pm/ and dm/
    marks: tuple = field(default=())


FILE_DEFECTS = {
    # kind: (file name, expected pattern)
    "zero": ("bad.tif", r"bad\.tif"),
    "truncated_tif": ("bad.tif", r"bad\.tif"),
    "garbage_tif": ("bad.tif", r"bad\.tif"),
    "huge_header_tif": ("bad.tif", r"bad\.tif"),
    "truncated_png": ("bad.png", r"bad\.png"),
    "garbage_npy": ("bad.npy", r"bad\.npy"),
    "pickled_npy": ("bad.npy", r"bad\.npy"),
    "huge_header_npy": ("bad.npy", r"bad\.npy"),
    "one_d_npy": ("bad.npy", r"bad\.npy"),
    "six_d_npy": ("bad.npy", r"bad\.npy"),
    "complex_npy": ("bad.npy", r"bad\.npy"),
    "four_d_no_axes": ("bad.tif", r"bad\.tif.*--axes|--axes.*bad\.tif"),
    "negative_spacing": ("bad.tif", r"bad\.tif.*spacing|spacing.*bad\.tif"),
    "garbage_h5": ("bad.h5", r"bad\.h5"),
    "h5_no_dataset": ("bad.h5:/data", r"bad\.h5"),
    "empty_zarr": ("bad.zarr", r"bad\.zarr"),
    "unicode_zero": ("données_画像 1.tif", r"données_画像 1\.tif"),
}
IMAGE_VERBS = {
    "info": lambda f: ["info", f],
    "convert": lambda f: ["convert", f, "out/converted.npy"],
    "pipeline": lambda f: ["pipeline", "run", "p.yaml", "-i", f, "-o", "out"],
    "pixel_predict": lambda f: ["pixel", "predict", "pm", "-i", f, "-o", "out"],
}
# defects a verb may legitimately accept (checked elsewhere) or that another helper owns
SKIP = {("info", "empty_npy"), ("convert", "empty_npy")}


def _file_cases() -> list:
    cases = []
    for verb, make_args in IMAGE_VERBS.items():
        for kind, (name, expect) in FILE_DEFECTS.items():
            if (verb, kind) in SKIP:
                continue
            path = f"bad/{name}"
            if kind == "unicode_zero":
                planted = "zero"
            else:
                planted = kind
            needs = ("pixel",) if verb == "pixel_predict" else ()
            if verb in ("info", "convert") and kind == "complex_npy":
                continue  # reporting or converting a complex image is not wrong
            cases.append(
                Case(
                    f"{verb}-{kind}",
                    make_args(path),
                    expect,
                    lambda ws, k=planted, p=path: bad_file(k, ws, p),
                    needs,
                )
            )
    return cases


def _labels_case(id_, array, expect, *, side="gt", marks=()):
    def setup(ws: Path) -> None:
        folder = ws / side
        for p in folder.iterdir():
            p.unlink()
        name = "a.tif" if side == "gt" else "a_labels.tif"
        if isinstance(array, bytes):
            (folder / name).write_bytes(array)
        else:
            tifffile.imwrite(folder / name, array)

    return Case(
        f"evaluate-{id_}",
        ["evaluate", "--task", "instance", "--gt", "gt", "--pred", "pred", "-o", "ev"],
        expect,
        setup,
        marks=marks,
    )


def _evaluate_cases() -> list:
    labels = np.zeros((16, 16), np.uint16)
    labels[4:12, 4:12] = 1
    rgb = np.zeros((16, 16, 3), np.uint8)
    ev = ["evaluate", "--task", "instance", "--gt", "gt", "--pred", "pred", "-o", "ev"]

    def extra_pred(ws: Path) -> None:
        write_image(ws / "pred" / "zzz_labels.tif", labels, ImageMeta("YX"))

    def nan_float(ws: Path) -> None:
        for p in (ws / "gt").iterdir():
            p.unlink()
        arr = labels.astype(np.float32)
        arr[0, 0] = np.nan
        write_image(ws / "gt" / "a.tif", arr, ImageMeta("YX"))

    def restoration_nan(ws: Path) -> None:
        arr = np.ones((16, 16), np.float32)
        arr[3, 3] = np.nan
        write_image(ws / "rgt" / "a.tif", arr, ImageMeta("YX"))
        write_image(ws / "rpred" / "a.tif", np.ones((16, 16), np.float32), ImageMeta("YX"))

    restoration = ["evaluate", "--task", "restoration", "--gt", "rgt", "--pred", "rpred"]
    return [
        _labels_case("fractional-labels", labels.astype(np.float32) + 0.5, r"gt/a\.tif"),
        _labels_case("negative-labels", labels.astype(np.int16) - 1, r"gt/a\.tif.*negative"),
        _labels_case("rgb-labels", rgb, r"a\.tif"),
        _labels_case("float-pred", labels.astype(np.float32) / 3, r"pred/a_labels\.tif",
                     side="pred"),
        _labels_case("shape-mismatch", np.zeros((8, 8), np.uint16), r"gt/a\.tif.*pred/a_labels"),
        _labels_case("zero-byte-gt", b"", r"gt/a\.tif"),
        _labels_case("truncated-pred", b"II*\x00\x08\x00\x00\x00", r"a_labels\.tif", side="pred"),
        Case("evaluate-nan-labels", ev, r"gt/a\.tif.*NaN", nan_float),
        Case("evaluate-unpaired", ev, r"zzz_labels\.tif", extra_pred),
        Case("evaluate-restoration-nan", [*restoration, "-o", "ev"], r"rgt/a\.tif.*NaN",
             restoration_nan),
        Case("evaluate-missing-gt", [*ev[:4], "nowhere", *ev[5:]], r"nowhere"),
        Case("evaluate-points-garbage", ["evaluate", "--task", "detection", "--gt", "pg",
             "--pred", "pp", "-o", "ev"], r"pg/a\.csv",
             lambda ws: (_put(ws, "pg/a.csv", b"\x00\xff\x00garbage"),
                         _put(ws, "pp/a.csv", b"y,x\n1,2\n"))),
        Case("evaluate-points-no-columns", ["evaluate", "--task", "detection", "--gt", "pg",
             "--pred", "pp", "-o", "ev"], r"pp/a\.csv.*column",
             lambda ws: (_put(ws, "pg/a.csv", b"y,x\n1,2\n"), _put(ws, "pp/a.csv", b"q,r\n1,2\n"))),
    ]  # fmt: skip


def _nan_image(value: float) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        image = np.ones((16, 16), np.float32)
        image[5, 5] = value
        write_image(ws / "bad" / "nan.tif", image, ImageMeta("YX"))

    return setup


def _nonfinite_cases() -> list:
    return [
        Case("pixel-predict-nan", ["pixel", "predict", "pm", "-i", "bad/nan.tif", "-o", "out"],
             r"bad/nan\.tif.*NaN", _nan_image(np.nan), ("pixel",)),
        Case("pixel-predict-inf", ["pixel", "predict", "pm", "-i", "bad/nan.tif", "-o", "out"],
             r"bad/nan\.tif.*infinite", _nan_image(np.inf), ("pixel",)),
        Case("pipeline-nan", ["pipeline", "run", "p.yaml", "-i", "bad/nan.tif", "-o", "out"],
             r"bad/nan\.tif.*NaN", _nan_image(np.nan)),
        Case("pixel-train-nan", ["pixel", "train", "--images", "bad", "--scribbles", "sc",
             "-o", "newpm"], r"bad/nan\.tif.*NaN",
             lambda ws: (_nan_image(np.nan)(ws), _scribbles(ws, "sc/nan.tif"))),
    ]  # fmt: skip


def _scribbles(ws: Path, rel: str, array: np.ndarray | None = None) -> None:
    if array is None:
        array = np.zeros((16, 16), np.uint8)
        array[0, :] = 1
        array[8, 8] = 2
    write_image(ws / rel, array, ImageMeta("YX"))


YAML_BOMB = "\n".join(
    [
        'a: &a ["x","x","x","x","x","x","x","x","x"]',
        *[f"{c}: &{c} [{','.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")],
        "steps: *i",
    ]
)
BAD_YAML = {
    # id: (text or bytes, expected pattern)
    "empty": ("", r"p\.yaml: expected a mapping"),
    "only-comment": ("# nothing\n", r"p\.yaml: expected a mapping"),
    "top-level-list": ("- step: threshold\n", r"p\.yaml: expected a mapping"),
    "top-level-scalar": ("hello\n", r"p\.yaml: expected a mapping"),
    "unclosed-bracket": ("steps: [threshold\nname: x\n", r"p\.yaml: not valid YAML \(line"),
    "tab-indent": ("steps:\n\t- threshold\n", r"p\.yaml: not valid YAML \(line 2"),
    "duplicate-key": ("steps: [threshold]\nsteps: [fill_holes]\n", r"p\.yaml: line 2: duplicate"),
    "two-documents": ("steps: [threshold]\n---\nsteps: [fill_holes]\n", r"p\.yaml: not valid"),
    "python-tag": ("!!python/object/apply:os.system ['echo pwned']\n", r"p\.yaml: not valid"),
    "yaml-bomb": (YAML_BOMB, r"p\.yaml: .*aliases"),
    "recursive-alias": ("steps: &a [*a]\n", r"p\.yaml: line 1: recursive"),
    "not-utf8": (b"steps: [\xff\xfe\x00]\n", r"p\.yaml: not a UTF-8"),
    "too-large": ("# " + "x" * (1 << 20) + "\nsteps: [threshold]\n", r"p\.yaml: .*too large"),
    "deep-nesting": ("steps: " + "[" * 3000 + "]" * 3000 + "\n", r"p\.yaml: not valid YAML"),
    "unknown-key": ("steps: [threshold]\nstepz: 1\n", r"p\.yaml: invalid config at stepz"),
    "no-steps": ("name: x\n", r"p\.yaml: invalid config at steps"),
    "empty-steps": ("steps: []\n", r"p\.yaml: invalid config at steps"),
    "steps-number": ("steps: 3\n", r"p\.yaml: invalid config at steps"),
    "unknown-step": ("steps: [otsu]\n", r"p\.yaml: .*unknown step 'otsu'"),
    "unknown-param": ("steps:\n  - step: gaussian\n    radius: 2\n", r"p\.yaml: .*'radius'"),
    "param-type": ("steps:\n  - step: gaussian\n    sigma: abc\n", r"p\.yaml: .*'sigma'"),
    # checked when the step runs, so the message names the image (the config is accepted)
    "param-negative": ("steps:\n  - step: gaussian\n    sigma: -1\n", r"sigma must be"),
    "channel-negative": ("channel: -1\nsteps: [threshold]\n", r"p\.yaml: invalid config at chan"),
    "channel-text": ("channel: red\nsteps: [threshold]\n", r"p\.yaml: invalid config at channel"),
    "spacing-negative": ("spacing: [-1, 1]\nsteps: [threshold]\n", r"p\.yaml: .*spacing"),
    "spacing-zero": ("spacing: [0, 0]\nsteps: [threshold]\n", r"p\.yaml: .*spacing"),
    "spacing-length": ("spacing: [1, 1, 1, 1]\nsteps: [threshold]\n", r"p\.yaml: .*spacing"),
    "outputs-unknown": ("steps: [threshold]\noutputs: {labelz: true}\n", r"p\.yaml: .*labelz"),
    "name-list": ("name: [1, 2]\nsteps: [threshold]\n", r"p\.yaml: invalid config at name"),
}


def _yaml_setup(text: str | bytes, name: str = "p.yaml") -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return setup


def _yaml_cases() -> list:
    cases = []
    for key, (text, expect) in BAD_YAML.items():
        args = ["pipeline", "run", "p.yaml", "-i", "img", "-o", "out"]
        cases.append(Case(f"pipeline-yaml-{key}", args, expect, _yaml_setup(text)))
    run = ["pipeline", "run", "p.yaml", "-i", "img", "-o", "out"]
    cases += [
        Case("pipeline-yaml-missing", ["pipeline", "run", "nope.yaml", "-i", "img", "-o", "out"],
             r"nope\.yaml: config file not found"),
        Case("pipeline-yaml-folder", ["pipeline", "run", "img", "-i", "img", "-o", "out"],
             r"img: config file is a folder"),
        Case("pipeline-channel-absent", run, r"bad/a\.tif.*channel",
             lambda ws: ((ws / "p.yaml").write_text("channel: 3\nsteps: [threshold]\n"),
                         write_image(ws / "bad" / "a.tif", np.zeros((16, 16), np.uint8),
                                     ImageMeta("YX"))),
             ),
    ]  # fmt: skip
    cases[-1].args = ["pipeline", "run", "p.yaml", "-i", "bad/a.tif", "-o", "out"]
    return cases


TRAIN_YAML = {
    "empty": ("", r"t\.yaml: expected a mapping"),
    "bad-syntax": ("task: [semantic\n", r"t\.yaml: not valid YAML"),
    "yaml-bomb": (YAML_BOMB.replace("steps: *i", "data: *i"), r"t\.yaml: .*aliases"),
    "python-tag": ("!!python/object/apply:os.system ['echo pwned']\n", r"t\.yaml: not valid"),
    "unknown-task": ("task: magic\n", r"t\.yaml: .*task 'magic'"),
    "unknown-key": ("task: semantic\nepochz: 3\n", r"t\.yaml: .*epochz"),
    "train-unknown-key": ("task: semantic\ntrain: {epochz: 3}\n", r"t\.yaml: .*epochz"),
    "negative-epochs": ("task: semantic\ntrain: {epochs: -1}\n", r"t\.yaml: .*epochs"),
    "zero-batch": ("task: semantic\ntrain: {batch_size: 0}\n", r"t\.yaml: .*batch_size"),
    "negative-lr": ("task: semantic\ntrain: {lr: -0.1}\n", r"t\.yaml: .*lr"),
    "patch-4d": (
        "task: semantic\npatch_shape: [8, 8, 8, 8]\n",
        r"t\.yaml: .*patch_shape",
    ),
    "patch-odd": ("task: semantic\npatch_shape: [17, 17]\n", r"t\.yaml: .*patch"),
    "no-data": ("task: semantic\noutput: m\n", r"t\.yaml: .*data"),
    "missing-images": (
        "task: semantic\noutput: m\ndata: {images: nowhere, masks: masks}\n",
        r"nowhere",
    ),
}


def _train_cases() -> list:
    cases = [
        Case(f"train-yaml-{key}", ["train", "t.yaml"], expect, _yaml_setup(text, "t.yaml"),
             marks=more[0] if more else ())
        for key, (text, expect, *more) in TRAIN_YAML.items()
    ]  # fmt: skip
    cases.append(Case("train-yaml-missing", ["train", "nope.yaml"], r"nope\.yaml"))
    return cases


def _tamper(target: str, how: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        model = ws / ("pm" if target == "pixel" else "dm")
        if how == "no-folder":
            import shutil

            shutil.rmtree(model)
            return
        if how.startswith("config-"):
            file = model / "config.json"
            if how == "config-garbage":
                file.write_bytes(b"{not json")
            elif how == "config-list":
                file.write_text("[1, 2, 3]")
            elif how == "config-missing":
                file.unlink()
            elif how == "config-other-format":
                file.write_text(json.dumps({"format": "somebody.else", "format_version": 1}))
            elif how == "config-keys-missing":
                meta = json.loads(file.read_text())
                file.write_text(json.dumps({"format": meta.get("format")}))
            return
        weights = model / ("model.npz" if target == "pixel" else "weights.pt")
        if how == "weights-zero":
            weights.write_bytes(b"")
        elif how == "weights-truncated":
            weights.write_bytes(weights.read_bytes()[:100])
        elif how == "weights-missing":
            weights.unlink()
        elif how == "weights-pickle":
            weights.write_bytes(pickle.dumps(_Evil()))
        elif how == "weights-folder":
            weights.unlink()
            weights.mkdir()
        elif how == "weights-wrong-tensors":
            import torch

            torch.save({"nothing.weight": torch.zeros(2)}, weights)

    return setup


class _Evil:
    """A pickle that runs code when loaded (it must never be loaded)."""

    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path('PWNED').touch()",))


PIXEL_MODEL_XFAIL: dict[str, tuple] = {}
DEEP_MODEL_XFAIL: dict[str, tuple] = {}


def _model_cases() -> list:
    cases = []
    pixel = ["pixel", "predict", "pm", "-i", "img", "-o", "out"]
    for how in ("no-folder", "config-garbage", "config-list", "config-missing",
                "config-other-format", "config-keys-missing", "weights-zero",
                "weights-truncated", "weights-missing", "weights-pickle"):  # fmt: skip
        marks = PIXEL_MODEL_XFAIL.get(how, ())
        cases.append(
            Case(f"pixel-model-{how}", pixel, r"pm", _tamper("pixel", how), ("pixel",), marks)
        )
    deep = ["predict", "dm", "-i", "img", "-o", "out"]
    for how in ("no-folder", "config-garbage", "config-list", "config-missing",
                "config-other-format", "config-keys-missing", "weights-zero",
                "weights-truncated", "weights-missing", "weights-pickle", "weights-folder",
                "weights-wrong-tensors"):  # fmt: skip
        expect = r"dm/weights\.pt" if how.startswith("weights") else r"dm"
        marks = DEEP_MODEL_XFAIL.get(how, ())
        cases.append(
            Case(f"deep-model-{how}", deep, expect, _tamper("deep", how), ("deep",), marks)
        )
    return cases


def _parameter_cases() -> list:
    ev = ["evaluate", "--task", "instance", "--gt", "gt", "--pred", "pred", "-o", "ev"]
    ptrain = ["pixel", "train", "--images", "img", "--scribbles", "scrib", "-o", "newpm"]
    cases = [
        Case("evaluate-threshold-zero", [*ev, "--thresholds", "0"], r"thresholds"),
        Case("evaluate-threshold-above-one", [*ev, "--thresholds", "0.5,1.5"], r"thresholds"),
        Case("evaluate-threshold-negative", [*ev, "--thresholds", "-0.1"], r"thresholds"),
        Case("evaluate-threshold-nan", [*ev, "--thresholds", "nan"], r"thresholds"),
        Case("evaluate-threshold-text", [*ev, "--thresholds", "half"], r"--thresholds.*'half'"),
        Case("evaluate-threshold-empty", [*ev, "--thresholds", ","], r"--thresholds"),
        Case("evaluate-tolerance-negative", ["evaluate", "--task", "detection", "--gt", "gt",
             "--pred", "pred", "-o", "ev", "--tolerance", "-1"], r"tolerance"),
        Case("evaluate-tolerance-nan", [*ev, "--tolerance", "nan"], r"tolerance"),
        Case("evaluate-data-range-zero", [*ev, "--data-range", "0"], r"data_range"),
        Case("evaluate-average-bogus", [*ev, "--average", "median"], r"average.*'median'"),
        Case("evaluate-task-bogus", ["evaluate", "--task", "magic", "--gt", "gt", "--pred",
             "pred", "-o", "ev"], r"task 'magic'"),
        Case("evaluate-tolerance-text", [*ev, "--tolerance", "far"], r"--tolerance.*'far'"),
        Case("pixel-train-trees-text", [*ptrain, "--trees", "abc"], r"--trees.*'abc'"),
        Case("pixel-train-trees-zero", [*ptrain, "--trees", "0"], r"--trees"),
        Case("pixel-train-trees-negative", [*ptrain, "--trees", "-5"], r"--trees"),
        Case("pixel-train-depth-zero", [*ptrain, "--max-depth", "0"], r"--max-depth"),
        Case("pixel-train-cv-one", [*ptrain, "--cv", "1"], r"--cv"),
        Case("pixel-train-features-bogus", [*ptrain, "--features", "magic"], r"magic"),
        Case("pixel-train-classifier-bogus", [*ptrain, "--classifier", "oracle"], r"oracle"),
        Case("pixel-train-scribbles-float", ptrain, r"scrib/a\.tif",
             lambda ws: tifffile.imwrite(ws / "scrib" / "a.tif",
                                         np.full((16, 16), 0.5, np.float32))),
        Case("pixel-train-scribbles-shape", ptrain, r"scrib/a\.tif.*shape",
             lambda ws: ((ws / "scrib" / "a.tif").unlink(),
                         _scribbles(ws, "scrib/a.tif", np.ones((8, 8), np.uint8)))),
        Case("pixel-train-unpaired", ptrain, r"b\.tif",
             lambda ws: write_image(ws / "img" / "b.tif", np.zeros((16, 16), np.uint8),
                                    ImageMeta("YX"))),
        Case("pixel-predict-axes-bogus", ["pixel", "predict", "pm", "-i", "img", "-o", "out",
             "--axes", "QQ"], r"axes", needs=("pixel",)),
        Case("info-axes-wrong-length", ["info", "img/a.tif", "--axes", "ZYX"], r"axes"),
        Case("pipeline-axes-bogus", ["pipeline", "run", "p.yaml", "-i", "img", "-o", "out",
             "--axes", "XX"], r"axes"),
    ]  # fmt: skip
    return cases


def _usage_cases() -> list:
    return [
        Case("usage-unknown-verb", ["segmentt"], r"no such command 'segmentt'"),
        Case("usage-unknown-option", ["pipeline", "run", "p.yaml", "--foo"],
             r"no such option: --foo \(see biakit pipeline run --help\)"),
        Case("usage-missing-argument", ["pipeline", "run"], r"missing argument 'config'"),
        Case("usage-missing-option", ["pipeline", "run", "p.yaml", "-o", "out"],
             r"missing option '--input'"),
        Case("usage-option-needs-value", ["info", "img/a.tif", "--axes"],
             r"option '--axes' requires an argument"),
        Case("usage-info-extra-argument", ["info", "img/a.tif", "b.tif"], r"unexpected extra"),
        Case("usage-convert-missing-target", ["convert", "img/a.tif"], r"missing argument"),
        Case("usage-evaluate-missing-task", ["evaluate", "--gt", "gt", "--pred", "pred",
             "-o", "ev"], r"missing option '--task'"),
        Case("usage-pixel-unknown-verb", ["pixel", "classify"], r"no such command 'classify'"),
        Case("usage-predict-missing-model", ["predict"], r"missing argument"),
        Case("usage-train-unknown-option", ["train", "t.yaml", "--epochs", "3"],
             r"no such option: --epochs"),
    ]  # fmt: skip


def _output_cases() -> list:
    def gt_in_output(ws: Path) -> None:
        write_image(ws / "img" / "a_labels.tif", np.ones((16, 16), np.uint16), ImageMeta("YX"))

    return [
        Case("convert-output-is-input", ["convert", "img/a.tif", "img/a.tif", "--overwrite"],
             r"img/a\.tif: output is the input"),
        Case("convert-output-exists", ["convert", "img/a.tif", "gt/a.tif"],
             r"gt/a\.tif.*exists"),
        Case("convert-unknown-extension", ["convert", "img/a.tif", "out/a.xyz"], r"a\.xyz"),
        Case("convert-output-under-file", ["convert", "img/a.tif", "p.yaml/a.npy"],
             r"p\.yaml"),
        Case("pipeline-overwrite-ground-truth",
             ["pipeline", "run", "p.yaml", "-i", "img/a.tif", "-o", "img", "--overwrite"],
             r"img/a_labels\.tif: exists and was not written by biakit", gt_in_output),
        Case("pipeline-output-replaces-input",
             ["pipeline", "run", "p.yaml", "-i", "img", "-o", "img", "--overwrite"],
             r"img/a_labels\.tif: output would replace an input", gt_in_output),
        Case("pipeline-output-exists",
             ["pipeline", "run", "p.yaml", "-i", "img/a.tif", "-o", "img"],
             r"img/a_labels\.tif: output exists; pass --overwrite", gt_in_output),
        Case("pipeline-output-is-a-file", ["pipeline", "run", "p.yaml", "-i", "img", "-o",
             "p.yaml"], r"p\.yaml"),
        Case("pixel-predict-overwrite-ground-truth",
             ["pixel", "predict", "pm", "-i", "img/a.tif", "-o", "img", "--overwrite"],
             r"img/a_labels\.tif: exists and was not written by biakit", gt_in_output,
             ("pixel",)),
        Case("pixel-train-output-is-input-folder", ["pixel", "train", "--images", "img",
             "--scribbles", "scrib", "-o", "img", "--overwrite"], r"img.*input"),
        Case("pixel-train-overwrite-non-model", ["pixel", "train", "--images", "img",
             "--scribbles", "scrib", "-o", "gt", "--overwrite"],
             r"gt: exists and is not a pixel-classifier model"),
        Case("evaluate-overwrite-foreign-file", [*["evaluate", "--task", "instance", "--gt",
             "gt", "--pred", "pred", "-o", "ev", "--overwrite"]],
             r"ev/summary\.csv: exists and was not written by biakit",
             lambda ws: _put(ws, "ev/summary.csv", b"my,own\n1,2\n")),
        Case("evaluate-output-replaces-input", ["evaluate", "--task", "instance", "--gt", "gt",
             "--pred", "pred", "-o", "pred", "--overwrite"], r"summary\.csv|per_image\.csv",
             lambda ws: _put(ws, "pred/per_image.csv", b"a\n1\n")),
        Case("predict-overwrite-ground-truth",
             ["predict", "dm", "-i", "img/a.tif", "-o", "img", "--overwrite"],
             r"img/a_labels\.tif", gt_in_output, ("deep",)),
    ]  # fmt: skip


def _mark(case: Case):
    return pytest.param(case, id=case.id, marks=case.marks)


ALL_CASES = [
    *_file_cases(),
    *_evaluate_cases(),
    *_nonfinite_cases(),
    *_yaml_cases(),
    *_train_cases(),
    *_model_cases(),
    *_parameter_cases(),
    *_usage_cases(),
    *_output_cases(),
]


def test_the_suite_has_at_least_100_cases():
    assert len(ALL_CASES) >= 100
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)


@pytest.mark.parametrize("case", [_mark(c) for c in ALL_CASES])
def test_bad_input(case, workspace, cli, tools, request):
    for need in case.needs:
        source = request.getfixturevalue("pixel_model_dir" if need == "pixel" else "deep_model_dir")
        tools.copy_model(source, workspace / ("pm" if need == "pixel" else "dm"))
    if case.setup is not None:
        case.setup(workspace)
    before = tools.snapshot(workspace)
    result = cli(*case.args)
    lines = result.err_lines
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out
    assert len(lines) == 1, result.err
    assert lines[0].startswith("biakit: error: "), lines[0]
    assert "weights_only" not in lines[0]
    assert re.search(case.expect, lines[0]), lines[0]
    assert tools.snapshot(workspace) == before  # inputs unchanged, no (partial) outputs
    assert not Path("PWNED").exists()
