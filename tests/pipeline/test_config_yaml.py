"""Reading YAML configs safely: errors name the file and line; alias bombs are refused."""

import pytest

from biakit.errors import ConfigError
from biakit.pipeline._config import MAX_CONFIG_VALUES, read_yaml_mapping


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_reads_a_mapping_with_modest_anchors(tmp_path):
    path = _write(tmp_path, "base: &b {sigma: 1.0}\nsteps:\n  - {step: gaussian, <<: *b}\n")
    data = read_yaml_mapping(path, "steps")
    assert data["steps"] == [{"step": "gaussian", "sigma": 1.0}]


def test_billion_laughs_is_refused(tmp_path):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    path = _write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=rf"c\.yaml: .*more than {MAX_CONFIG_VALUES} values"):
        read_yaml_mapping(path, "steps")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("steps: &a [*a]\n", r"c\.yaml: line 1: recursive YAML alias"),
        ("a: 1\nb: 2\na: 3\n", r"c\.yaml: line 3: duplicate key 'a'"),
        ("steps: [x\nname: y\n", r"c\.yaml: not valid YAML \(line 2, column 5: expected ','"),
        ("a: 1\n---\nb: 2\n", r"c\.yaml: not valid YAML \(line 2, column 1: but found another"),
        ("!!python/object/apply:os.system ['true']\n", r"could not determine a constructor"),
        (b"a: \xff\n", r"c\.yaml: not a UTF-8 text file \(byte 3\)"),
        ("steps: " + "[" * 5000 + "]" * 5000, r"c\.yaml: not valid YAML"),
        ("- a\n", r"c\.yaml: expected a mapping with steps at the top level"),
        ("", r"c\.yaml: expected a mapping"),
    ],
)
def test_bad_yaml_names_file_and_line(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        read_yaml_mapping(_write(tmp_path, text), "steps")


def test_too_large_and_missing_files(tmp_path):
    big = _write(tmp_path, "# " + "x" * (1 << 20))
    with pytest.raises(ConfigError, match=r"c\.yaml: \d+ bytes is too large for a config"):
        read_yaml_mapping(big, "steps")
    with pytest.raises(ConfigError, match=r"nope\.yaml: config file not found"):
        read_yaml_mapping(tmp_path / "nope.yaml", "steps")
    with pytest.raises(ConfigError, match=r"config file is a folder"):
        read_yaml_mapping(tmp_path, "steps")
