import pytest

from biakit.pipeline import ConfigError, Pipeline, load_config, parse_config, step_names


def test_flat_and_nested_step_forms_are_equal():
    a = parse_config({"steps": [{"step": "gaussian", "sigma": 2.0}]})
    b = parse_config({"steps": [{"step": "gaussian", "params": {"sigma": 2.0}}]})
    assert a.steps == b.steps
    assert a.steps[0].params == {"sigma": 2.0}


def test_bare_step_name_is_accepted():
    cfg = parse_config({"steps": ["fill_holes"]})
    assert cfg.steps[0].step == "fill_holes"


def test_unknown_step_lists_valid_names():
    with pytest.raises(ConfigError, match=r"unknown step 'gausian'; valid steps: .*gaussian"):
        parse_config({"steps": [{"step": "gausian"}]})


def test_unknown_parameter_names_it_and_lists_valid_ones():
    with pytest.raises(
        ConfigError, match=r"step 'gaussian' has no parameter 'sigmaa'; valid: .*sigma"
    ):
        parse_config({"steps": [{"step": "gaussian", "sigmaa": 1}]})


def test_bad_parameter_value_names_parameter():
    with pytest.raises(ConfigError, match=r"steps\.0.*'sigma'"):
        parse_config({"steps": [{"step": "gaussian", "sigma": "wide"}]})


def test_empty_steps_rejected():
    with pytest.raises(ConfigError, match=r"at steps"):
        parse_config({"steps": []})


def test_unknown_top_level_field_rejected():
    with pytest.raises(ConfigError, match=r"at stpes"):
        parse_config({"stpes": [], "steps": ["fill_holes"]})


def test_bad_spacing_rejected():
    with pytest.raises(ConfigError, match=r"spacing must be 2 or 3 positive"):
        parse_config({"steps": ["fill_holes"], "spacing": [1.0, -2.0]})


def test_yaml_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        load_config(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("steps: [gaussian\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match=r"scalar\.yaml: expected a mapping"):
        load_config(scalar)


def test_yaml_round_trip(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: demo\nsteps:\n  - step: gaussian\n    sigma: 1.5\n  - step: threshold\n"
        "    method: li\n  - fill_holes\n"
    )
    pipe = Pipeline.from_yaml(path)
    assert [s.step for s in pipe.steps] == ["gaussian", "threshold", "fill_holes"]
    assert pipe.config.name == "demo"


def test_every_registered_step_resolves_to_a_function():
    from biakit.pipeline import STEPS, params_model

    for name in step_names():
        assert callable(STEPS[name].function), name
        params_model(name)  # builds from the real signature
