import numpy as np
import pytest

from biakit.data import synthetic_nuclei
from biakit.metrics import match_instances
from biakit.pipeline import Pipeline, PipelineError


def _recall_at_50(truth, labels):
    return match_instances(truth, labels, thresh=0.5).recall


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_pipeline_finds_well_separated_nuclei_2d(seed):
    s = synthetic_nuclei((256, 256), n_objects=25, touching=0.0, seed=seed)
    result = Pipeline.default().run(s.image, spacing=s.spacing)
    assert _recall_at_50(s.labels, result.labels) >= 0.9


def test_default_pipeline_finds_well_separated_nuclei_3d_anisotropic():
    s = synthetic_nuclei(
        (32, 128, 128), n_objects=15, touching=0.0, spacing=(3.0, 1.0, 1.0), seed=3
    )
    result = Pipeline.default().run(s.image, spacing=s.spacing)
    assert result.axes == "ZYX"
    assert _recall_at_50(s.labels, result.labels) >= 0.9


def test_hand_made_image_gives_exact_objects():
    image = np.zeros((64, 64), np.float32)
    image[10:20, 10:20] = 1.0
    image[40:55, 30:50] = 1.0
    result = Pipeline([{"step": "threshold", "method": "otsu"}, "label"]).run(image)
    assert result.n_objects == 2
    assert sorted(np.bincount(result.labels.ravel())[1:]) == [100, 300]
    assert result.labels.dtype == np.int32


def test_step_before_segmentation_is_an_error():
    with pytest.raises(PipelineError, match=r"step 1 \('fill_holes'\) needs a objects input"):
        Pipeline(["fill_holes"]).run(np.zeros((16, 16)))


def test_channel_and_time_axes():
    s = synthetic_nuclei((96, 96), n_objects=6, touching=0.0, seed=4)
    frames = np.stack([s.image, np.flip(s.image, axis=1)])  # T
    stack = np.stack([np.zeros_like(frames), frames], axis=1)  # T, C, Y, X; channel 1 has nuclei
    pipe = Pipeline(Pipeline.default().steps, channel=1)
    result = pipe.run(stack, axes="TCYX")
    assert result.axes == "TYX"
    assert result.labels.shape == (2, 96, 96)
    assert _recall_at_50(s.labels, result.labels[0]) >= 0.9
    assert _recall_at_50(np.flip(s.labels, axis=1), result.labels[1]) >= 0.9


def test_channel_out_of_range():
    with pytest.raises(PipelineError, match=r"channel 3 requested but the image has 2"):
        Pipeline(["label"], channel=3).run(np.zeros((2, 8, 8)), axes="CYX")


def test_high_dimensional_image_needs_axes():
    with pytest.raises(PipelineError, match=r"4-D image needs explicit axes"):
        Pipeline(["label"]).run(np.zeros((2, 2, 8, 8)))


def test_spacing_length_checked():
    with pytest.raises(PipelineError, match=r"spacing \(1\.0, 1\.0, 1\.0\) has 3 values"):
        Pipeline.default().run(np.zeros((8, 8)), spacing=(1, 1, 1))


def test_pipeline_without_segmentation_fails_clearly():
    with pytest.raises(PipelineError, match=r"made no mask or labels"):
        Pipeline([{"step": "gaussian", "sigma": 1.0}]).run(np.zeros((8, 8)))


def test_labels_step_after_a_mask_labels_connected_components():
    mask_image = np.zeros((32, 32), np.float32)
    mask_image[2:6, 2:6] = 1
    mask_image[20:30, 20:30] = 1
    result = Pipeline([{"step": "threshold", "method": "otsu"}, "clear_border"]).run(mask_image)
    assert result.n_objects == 2
    assert sorted(np.bincount(result.labels.ravel())[1:]) == [16, 100]
