"""UNetConfig: validation, divisor, patch checks, analytic receptive field."""

import pytest

from biakit.nn.models import UNetConfig


def test_defaults_and_contract_fields():
    cfg = UNetConfig()
    assert (cfg.ndim, cfg.in_channels, cfg.out_channels, cfg.depth, cfg.base_filters) == (
        2,
        1,
        2,
        4,
        32,
    )
    assert cfg.norm == "batch" and cfg.upsampling == "transposed"
    assert cfg.divisor == (16, 16)
    assert cfg.axes == "YX"
    assert cfg.is_local


def test_divisor_isotropic_and_anisotropic():
    assert UNetConfig(ndim=3, depth=3).divisor == (8, 8, 8)
    cfg = UNetConfig(ndim=3, depth=3, z_pool=(False, True, False))
    assert cfg.divisor == (2, 8, 8)
    assert cfg.pool_factors == ((1, 2, 2), (2, 2, 2), (1, 2, 2))
    assert UNetConfig(ndim=3, depth=2, z_pool=(False, False)).divisor == (1, 4, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depth": 0}, "depth"),
        ({"base_filters": 0}, "base_filters"),
        ({"in_channels": 0}, "in_channels"),
        ({"out_channels": 0}, "out_channels"),
        ({"ndim": 4}, "ndim"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"norm": "layer"}, "norm"),
        ({"upsampling": "nearest"}, "upsampling"),
        ({"unknown": 1}, "Extra inputs are not permitted"),
        ({"ndim": 2, "depth": 2, "z_pool": (True, False)}, "z_pool is only valid for ndim=3"),
        ({"ndim": 3, "depth": 3, "z_pool": (True, False)}, "got 2 entries for depth=3"),
        ({"norm": "group", "base_filters": 8, "norm_groups": 3}, "norm_groups=3 does not divide"),
        ({"norm_groups": 0}, "norm_groups"),
    ],
)
def test_validation_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNetConfig(**kwargs)


def test_assignment_is_validated():
    cfg = UNetConfig()
    with pytest.raises(ValueError, match="depth"):
        cfg.depth = 0


def test_json_round_trip():
    cfg = UNetConfig(ndim=3, depth=2, z_pool=(False, True), norm="group", attention=True)
    again = UNetConfig.model_validate_json(cfg.model_dump_json())
    assert again == cfg
    assert again.z_pool == (False, True)


def test_group_counts():
    cfg = UNetConfig(norm="group", base_filters=12)
    assert [cfg.groups_for(c) for c in (12, 24, 4, 2, 1, 7)] == [6, 8, 4, 2, 1, 7]
    explicit = UNetConfig(norm="group", base_filters=12, norm_groups=4)
    assert explicit.groups_for(12) == 4 and explicit.groups_for(48) == 4


def test_check_patch_accepts_multiples():
    UNetConfig(depth=4).check_patch((96, 112))
    UNetConfig(ndim=3, depth=2, z_pool=(False, True)).check_patch((6, 8, 12))


def test_check_patch_message_names_axis_size_and_fix():
    cfg = UNetConfig(depth=4)
    msg = r"patch size 100 along Y is not a multiple of 16 \(2\*\*4 pooling steps\); use 96 or 112"
    with pytest.raises(ValueError, match=msg):
        cfg.check_patch((100, 96))
    with pytest.raises(ValueError, match=r"patch size 8 along X is not a multiple of 16 .*use 16$"):
        cfg.check_patch((96, 8))
    with pytest.raises(ValueError, match=r"patch size 0 along X .*use 16$"):
        cfg.check_patch((96, 0))


def test_check_patch_anisotropic_z():
    cfg = UNetConfig(ndim=3, depth=3, z_pool=(False, True, False))
    cfg.check_patch((2, 8, 8))
    msg = r"patch size 3 along Z is not a multiple of 2 \(2\*\*1 pooling steps\); use 2 or 4"
    with pytest.raises(ValueError, match=msg):
        cfg.check_patch((3, 8, 8))


def test_check_patch_wrong_length():
    with pytest.raises(ValueError, match=r"has 3 axes; expected 2 spatial axes \(YX\)"):
        UNetConfig().check_patch((16, 16, 16))


# Receptive fields worked out by hand from the layer list (see _config module docstring):
# depth 1, transposed: block [-2,2] -> pool [-2,3] -> bottleneck [-6,7] -> up [-7,7]
#   -> block [-9,9].  Interpolation: up [-8,8] -> [-10,10].
# depth 2, transposed: [-2,2] [-2,3] [-6,7] [-6,9] [-14,17] up [-16,17] [-20,21] up [-21,21]
#   [-23,23].  Interpolation: up [-18,19] [-22,23] up [-24,24] [-26,26].
@pytest.mark.parametrize(
    ("depth", "upsampling", "halo"),
    [
        (1, "transposed", 9),
        (1, "interpolation", 10),
        (2, "transposed", 23),
        (2, "interpolation", 26),
    ],
)
def test_halo_hand_computed(depth, upsampling, halo):
    cfg = UNetConfig(depth=depth, upsampling=upsampling)
    assert cfg.halo == (halo, halo)


def test_halo_anisotropic_z_smaller():
    cfg = UNetConfig(ndim=3, depth=2, z_pool=(False, True))
    # Z: block [-2,2], no pool, block [-4,4], pool [-4,5] s=2, bottleneck [-8,9],
    # up [-9,9], block [-11,11], no up, block [-13,13].
    assert cfg.receptive_field == ((-13, 13), (-23, 23), (-23, 23))
    assert cfg.halo == (13, 23, 23)
    assert UNetConfig(ndim=3, depth=2, z_pool=(False, False)).halo[0] == 10  # 5 double convs


# Blur-pool (N2V2) at scale s: stride-1 max-pool +s right, [1, 2, 1] blur +-s, so
# (-s, +2s) per pooling step where a max-pool adds (0, +s).
# depth 1, transposed: [-2,2] -> blur-pool [-3,4] -> bottleneck [-7,8] -> up [-8,8]
#   -> block [-10,10].  Interpolation: up [-9,9] -> [-11,11].
# depth 2, transposed: [-2,2] [-3,4] [-7,8] [-9,12] [-17,20] up [-19,20] [-23,24] up [-24,24]
#   [-26,26].  Interpolation: up [-21,22] [-25,26] up [-27,27] [-29,29].
# skip_top=False removes the union with the top skip [-2,2], always inside the deep path.
@pytest.mark.parametrize(
    ("depth", "upsampling", "halo"),
    [
        (1, "transposed", 10),
        (1, "interpolation", 11),
        (2, "transposed", 26),
        (2, "interpolation", 29),
    ],
)
@pytest.mark.parametrize("skip_top", [True, False])
def test_halo_hand_computed_blur_pool(depth, upsampling, halo, skip_top):
    cfg = UNetConfig(depth=depth, upsampling=upsampling, pool="blur", skip_top=skip_top)
    assert cfg.receptive_field == ((-halo, halo), (-halo, halo))
    plain = UNetConfig(depth=depth, upsampling=upsampling, skip_top=skip_top)
    assert plain.halo == UNetConfig(depth=depth, upsampling=upsampling).halo
    assert cfg.divisor == plain.divisor  # same pooling grid


def test_halo_anisotropic_blur_pool():
    cfg = UNetConfig(ndim=3, depth=2, z_pool=(False, True), pool="blur", skip_top=False)
    # Z: block [-2,2], no pool, block [-4,4], blur-pool [-5,6] s=2, bottleneck [-9,10],
    # up [-10,10], block [-12,12], no up, block [-14,14].  Y, X: as 2D depth 2 (26).
    assert cfg.receptive_field == ((-14, 14), (-26, 26), (-26, 26))
    assert cfg.divisor == (2, 4, 4)
    flat = UNetConfig(ndim=3, depth=2, z_pool=(False, False), pool="blur")
    assert flat.halo[0] == 10  # Z is never pooled: 5 double convs, no blur


def test_is_local_flags_norms_with_image_statistics():
    assert UNetConfig(norm="none").is_local
    assert not UNetConfig(norm="instance").is_local
    assert not UNetConfig(norm="group").is_local
