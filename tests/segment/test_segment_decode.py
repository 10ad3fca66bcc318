import dataclasses
import time

import numpy as np
import pytest
from scipy import ndimage as ndi

from biakit.blocks import GLOBAL, get_halo
from biakit.data import synthetic_nuclei
from biakit.errors import ParameterError
from biakit.metrics.instance import match_instances
from biakit.nn.targets import CHANNELS as ENCODING_CHANNELS
from biakit.nn.targets import InstanceEncoding, instance_targets
from biakit.segment import DecodeParams, decode_instances, tune_decoding
from biakit.segment._decode import CHANNELS
from biakit.segment._decode_tune import DEFAULT_GRID, IOU_THRESHOLDS

MODES = tuple(CHANNELS)
CASES = [((192, 192), None, 0), ((24, 80, 80), (2.0, 1.0, 1.0), 1)]


def _nuclei(shape, spacing, seed):
    n = 30 if len(shape) == 2 else 15
    return synthetic_nuclei(shape, n_objects=n, touching=0.5, spacing=spacing, seed=seed).labels


def _degrade(targets, spacing, seed):
    """Blur (1 physical unit) and add Gaussian noise of sd 0.1, clipped to [0, 1]."""
    sigma = 1.0 if spacing is None else tuple(1.0 / s for s in spacing)
    rng = np.random.default_rng(seed)
    out = np.stack([ndi.gaussian_filter(c, sigma) for c in targets])
    return np.clip(out + rng.normal(0, 0.1, out.shape), 0, 1).astype(np.float32)


def test_channel_layouts_match_the_encoding():
    assert CHANNELS == ENCODING_CHANNELS
    assert get_halo(decode_instances, 2) == GLOBAL
    assert IOU_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("shape", "spacing", "seed"), CASES)
def test_exact_targets_decode_losslessly(mode, shape, spacing, seed):
    labels = _nuclei(shape, spacing, seed)
    enc = InstanceEncoding(mode=mode, spacing=spacing)
    out = decode_instances(instance_targets(labels, enc), enc, DecodeParams(min_size=0))
    assert out.dtype == np.int32 and out.shape == labels.shape
    m = match_instances(labels, out, thresh=0.5)
    assert m.accuracy >= 0.98
    assert m.mean_matched_score >= 0.97
    strict = match_instances(labels, out, thresh=0.9)
    assert strict.accuracy >= 0.95


@pytest.mark.parametrize(
    ("mode", "params"),
    [
        ("fg_contour", DecodeParams(seed_threshold=0.7, min_size=30)),
        ("fg_contour_distance", DecodeParams(min_seed_size=5, min_size=30)),
        ("fg_contour_distance_centre", DecodeParams(min_seed_size=5, min_size=30)),
    ],
)
@pytest.mark.parametrize(("shape", "spacing", "seed"), CASES)
def test_noisy_blurred_targets_still_decode(mode, params, shape, spacing, seed):
    labels = _nuclei(shape, spacing, seed)
    enc = InstanceEncoding(mode=mode, spacing=spacing)
    noisy = _degrade(instance_targets(labels, enc), spacing, seed)
    m = match_instances(labels, decode_instances(noisy, enc, params), thresh=0.5)
    assert m.accuracy >= 0.9


def test_seed_noise_oversplits_without_min_seed_size():
    labels = _nuclei((192, 192), None, 0)
    enc = InstanceEncoding(mode="fg_contour_distance")
    noisy = _degrade(instance_targets(labels, enc), None, 0)
    plain = decode_instances(noisy, enc, DecodeParams(min_size=0))
    filtered = decode_instances(noisy, enc, DecodeParams(min_size=0, min_seed_size=5))
    assert plain.max() > 1.5 * labels.max()
    assert match_instances(labels, filtered, thresh=0.5).accuracy >= 0.9


def _two_touching_discs():
    yy, xx = np.mgrid[:30, :50]
    labels = np.zeros((30, 50), dtype=np.int32)
    labels[(yy - 15) ** 2 + (xx - 16) ** 2 < 100] = 1
    labels[((yy - 15) ** 2 + (xx - 32) ** 2 < 100) & (xx >= 24)] = 2
    return labels


@pytest.mark.parametrize("mode", MODES)
def test_touching_objects_are_separated(mode):
    labels = _two_touching_discs()
    assert labels[15, 23] == 1 and labels[15, 24] == 2  # they share a boundary
    enc = InstanceEncoding(mode=mode)
    targets = instance_targets(labels, enc)
    out = decode_instances(targets, mode, DecodeParams(min_size=0))
    np.testing.assert_array_equal(out, labels)
    # one connected foreground blob: a plain threshold + connected components merges them
    assert ndi.label(targets[0] > 0.5)[1] == 1


def test_seed_channel_choice_and_unseeded_components():
    labels = _two_touching_discs()
    enc = InstanceEncoding(mode="fg_contour_distance_centre")
    t = instance_targets(labels, enc)
    for channel in ("centre", "distance", "fg_contour"):
        out = decode_instances(t, enc, DecodeParams(seed_channel=channel, min_size=0))
        np.testing.assert_array_equal(out, labels)
    # no seed anywhere: every foreground component becomes one object
    out = decode_instances(t, enc, DecodeParams(seed_threshold=1.0, min_size=0))
    np.testing.assert_array_equal(out, (labels > 0).astype(np.int32))
    with pytest.raises(ValueError, match="seed_channel='centre' but the encoding has no centre"):
        decode_instances(t[:3], "fg_contour_distance", DecodeParams(seed_channel="centre"))


def test_size_filter_and_hole_filling():
    pred = np.zeros((2, 20, 30), dtype=np.float32)
    pred[0, 2:12, 2:12] = 1  # a 10x10 object with a 2x2 hole ...
    pred[0, 6:8, 6:8] = 0
    pred[0, 15:17, 20:22] = 1  # ... and a 4-pixel speck
    # two touching objects enclosing a hole between them
    pred[0, 2:12, 15:25] = 1
    pred[1, 2:12, 20] = 1
    pred[0, 6:8, 19:21] = 0
    out = decode_instances(pred, "fg_contour", DecodeParams(min_size=5))
    assert out.max() == 3 and out[16, 21] == 0
    assert out[6, 6] == out[2, 2] > 0  # hole inside one object filled
    assert out[6, 19] == 0 and out[6, 20] == 0  # hole between two objects kept
    kept = decode_instances(pred, "fg_contour", DecodeParams(min_size=0, fill_holes=False))
    assert kept.max() == 4 and kept[6, 6] == 0


def test_tune_decoding_picks_the_right_thresholds():
    labels = [_nuclei((96, 96), None, s) for s in range(2)]
    enc = InstanceEncoding(mode="fg_contour_distance_centre")
    preds = []
    for lab in labels:
        t = instance_targets(lab, enc)
        ring = ndi.binary_dilation(lab > 0, iterations=3) & (lab == 0)
        t[0] = np.where(lab > 0, 0.9, np.where(ring, 0.45, 0.0))  # halo of 0.45 around objects
        t[3] *= 0.6  # centres predicted at 0.6 only
        preds.append(t)
    grid = {"fg_threshold": [0.3, 0.5, 0.95], "seed_threshold": [0.5, 0.7]}
    best, table = tune_decoding(preds, labels, enc, grid=grid, base=DecodeParams(min_size=0))
    assert (best.fg_threshold, best.seed_threshold) == (0.5, 0.5)
    assert best.min_size == 0
    assert list(table.columns) == [*grid, "score", "accuracy_iou50", "n_pred"]
    assert len(table) == 6 and table["score"].max() >= 0.95
    row = table[(table.fg_threshold == 0.3) & (table.seed_threshold == 0.5)].iloc[0]
    assert row.score < 0.85  # 3-pixel halo: objects too big for the stricter IoU thresholds
    assert table.loc[table.seed_threshold == 0.7, "score"].max() < 0.5  # no seeds: merged
    assert table.loc[table.fg_threshold == 0.95, "score"].max() == 0.0


def test_tune_decoding_default_grid_is_fast():
    labels = [_nuclei((256, 256), None, s) for s in range(4)]
    enc = InstanceEncoding(mode="fg_contour_distance_centre")
    preds = [instance_targets(lab, enc) for lab in labels]
    start = time.perf_counter()
    best, table = tune_decoding(preds, labels, enc)
    elapsed = time.perf_counter() - start
    assert len(table) == len(DEFAULT_GRID["fg_threshold"]) * len(DEFAULT_GRID["seed_threshold"])
    assert len(table) == 20 and table["score"].max() > 0.97
    assert table["score"].iloc[table.index[table["score"] == table["score"].max()][0]] == (
        table["score"].max()
    )
    assert isinstance(best, DecodeParams)
    assert elapsed < 15  # a few seconds; generous for slow CI machines


def test_scalar_spacing_equals_repeated_sequence():
    labels = synthetic_nuclei((48, 48), n_objects=6, touching=0.5, seed=3).labels
    targets = instance_targets(labels, InstanceEncoding(mode="fg_contour_distance"))
    assert DecodeParams(spacing=0.5).spacing == 0.5
    assert DecodeParams(spacing=[0.5, 0.5]).spacing == (0.5, 0.5)
    scalar = decode_instances(targets, "fg_contour_distance", DecodeParams(spacing=0.5))
    pair = decode_instances(targets, "fg_contour_distance", DecodeParams(spacing=(0.5, 0.5)))
    np.testing.assert_array_equal(scalar, pair)


def test_decode_params_errors():
    with pytest.raises(ValueError, match=r"fg_threshold must be in \[0, 1\]"):
        DecodeParams(fg_threshold=1.5)
    with pytest.raises(TypeError, match="seed_threshold must be a number"):
        DecodeParams(seed_threshold="high")
    with pytest.raises(ValueError, match="contour_weight must be a finite number >= 0"):
        DecodeParams(contour_weight=-1.0)
    with pytest.raises(TypeError, match="contour_weight must be a number"):
        DecodeParams(contour_weight=None)
    with pytest.raises(ValueError, match="min_size must be an integer >= 0"):
        DecodeParams(min_size=2.5)
    with pytest.raises(ValueError, match="min_seed_size must be an integer >= 0"):
        DecodeParams(min_seed_size=-1)
    with pytest.raises(ValueError, match="seed_channel must be one of"):
        DecodeParams(seed_channel="peaks")
    with pytest.raises(ValueError, match="spacing must be positive"):
        DecodeParams(spacing=(1.0, 0.0))
    with pytest.raises(ParameterError, match="spacing must be positive finite numbers"):
        DecodeParams(spacing=-2.0)
    with pytest.raises(ParameterError, match="spacing must be a number or 1 numbers"):
        DecodeParams(spacing="0.5")
    with pytest.raises(dataclasses.FrozenInstanceError):
        DecodeParams().fg_threshold = 0.2  # type: ignore[misc]


def test_decode_instances_errors():
    pred = np.zeros((3, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"prediction must have shape \(2, \*spatial\)"):
        decode_instances(pred, "fg_contour")
    with pytest.raises(ValueError, match="prediction must have shape"):
        decode_instances(np.zeros((3, 8)), "fg_contour_distance")
    with pytest.raises(TypeError, match="prediction must be a numeric array"):
        decode_instances(pred.astype(bool), "fg_contour_distance")
    with pytest.raises(ValueError, match="prediction has 48 NaN and 0 infinite"):
        decode_instances(np.full((3, 4, 4), np.nan), "fg_contour_distance")
    with pytest.raises(ValueError, match="enc must be an InstanceEncoding or one of the modes"):
        decode_instances(pred, "bcd")
    with pytest.raises(TypeError, match="params must be a DecodeParams"):
        decode_instances(pred, "fg_contour_distance", {"fg_threshold": 0.5})
    with pytest.raises(ValueError, match=r"spacing has 3 value\(s\) .* 2 spatial axes"):
        decode_instances(pred, "fg_contour_distance", DecodeParams(spacing=(1.0, 1.0, 1.0)))
    assert decode_instances(pred, InstanceEncoding()).max() == 0


def test_tune_decoding_errors():
    pred = [np.zeros((2, 8, 8), dtype=np.float32)]
    truth = [np.zeros((8, 8), dtype=np.int32)]
    with pytest.raises(ValueError, match="same length"):
        tune_decoding(pred, truth * 2, "fg_contour")
    with pytest.raises(ValueError, match="at least one validation image"):
        tune_decoding([], [], "fg_contour")
    with pytest.raises(ValueError, match="grid key 'threshold' is not a DecodeParams field"):
        tune_decoding(pred, truth, "fg_contour", grid={"threshold": [0.5]})
    with pytest.raises(ValueError, match=r"grid\['fg_threshold'\] is empty"):
        tune_decoding(pred, truth, "fg_contour", grid={"fg_threshold": []})
    with pytest.raises(TypeError, match="grid must be a non-empty dict"):
        tune_decoding(pred, truth, "fg_contour", grid=[0.5])
    with pytest.raises(ValueError, match=r"fg_threshold must be in \[0, 1\]"):
        tune_decoding(pred, truth, "fg_contour", grid={"fg_threshold": [2.0]})
    with pytest.raises(TypeError, match="base must be a DecodeParams"):
        tune_decoding(pred, truth, "fg_contour", base={})
    with pytest.raises(ValueError, match=r"decodes to shape \(8, 8\) but its truth"):
        tune_decoding(pred, [np.zeros((8, 9), dtype=np.int32)], "fg_contour")
