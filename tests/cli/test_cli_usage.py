"""Usage mistakes, help, exit statuses and the user-error / internal-error split."""

import numpy as np
import pytest

import biakit.io
from biakit.cli import main
from biakit.cli._errors import clean_message, is_user_error, run_cli

VERB_PATHS = [
    [],
    ["pipeline"],
    ["pipeline", "run"],
    ["pipeline", "steps"],
    ["pixel", "train"],
    ["pixel", "predict"],
    ["evaluate"],
    ["info"],
    ["convert"],
    ["train"],
    ["predict"],
    ["demo"],
]


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("path", VERB_PATHS, ids=lambda p: " ".join(p) or "biakit")
def test_dash_h_is_help_everywhere(cli, path, flag):
    result = cli(*path, flag)
    assert result.code == 0, result.err
    assert "Usage: biakit" in result.out
    assert result.err == ""


@pytest.mark.parametrize("path", [[], ["pipeline"], ["pixel"]], ids=["biakit", "pipeline", "pixel"])
def test_a_missing_command_prints_the_help_on_stderr_with_status_2(cli, path):
    result = cli(*path)
    assert result.code == 2
    assert result.out == ""
    assert f"Usage: {' '.join(['biakit', *path])}" in result.err


def test_version(cli):
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("biakit ")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nope"], r"^biakit: error: no such command 'nope' \(see biakit --help\)$"),
        (
            ["pipeline", "run", "c.yaml", "--bogus"],
            r"^biakit: error: no such option: --bogus \(see biakit pipeline run --help\)$",
        ),
        (
            ["pixel", "train", "--images", "a", "--scribbles", "b", "-o", "c", "--trees", "abc"],
            r"^biakit: error: invalid value for '--trees': .*\(got 'abc'\) "
            r"\(see biakit pixel train --help\)$",
        ),
        (
            ["pipeline", "run", "c.yaml", "-i"],
            r"^biakit: error: option '-i' requires an argument \(see biakit pipeline run --help\)$",
        ),
        (["info"], r"^biakit: error: missing argument 'path' \(see biakit info --help\)$"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(cli, args, expected):
    import re

    result = cli(*args)
    assert result.code == 2
    assert result.out == ""
    assert len(result.err_lines) == 1 and re.match(expected, result.err_lines[0]), result.err


def _third_party_value_error(*args, **kwargs):
    # raised outside the biakit package: a bug to report, not a user mistake
    return np.zeros(3).reshape(2, 2)


def test_errors_inside_libraries_are_internal_errors(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(biakit.io, "read_image", _third_party_value_error)
    result = cli("info", str(tmp_path / "a.tif"))
    assert result.code == 1
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith("biakit: error: internal error (ValueError: cannot")
    assert "BIAKIT_DEBUG=1" in result.err_lines[0] and "report it" in result.err_lines[0]


def test_read_only_file_system_is_a_user_error(cli, monkeypatch, tmp_path):
    import errno
    import os

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "out"))

    monkeypatch.setattr(biakit.io, "read_image", read_only)
    result = cli("info", str(tmp_path / "a.tif"))
    assert result.code == 2
    assert result.err_lines == [
        f"biakit: error: [Errno 30] Read-only file system: '{tmp_path}/out'"
    ]
    assert not is_user_error(OSError(errno.EIO, "I/O error"))


def test_other_exception_types_are_internal_errors(cli, monkeypatch, tmp_path):
    def boom(*args, **kwargs):
        raise RuntimeError("boom\n  on two lines")

    monkeypatch.setattr(biakit.io, "read_image", boom)
    result = cli("info", str(tmp_path / "a.tif"))
    assert result.code == 1
    assert result.err_lines == [
        "biakit: error: internal error (RuntimeError: boom on two lines); "
        "re-run with BIAKIT_DEBUG=1 for the traceback and report it"
    ]


def test_biakit_debug_shows_the_traceback(monkeypatch, tmp_path):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(biakit.io, "read_image", boom)
    monkeypatch.setenv("BIAKIT_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["info", str(tmp_path / "a.tif")])


def test_interrupt_gives_status_130(cli, monkeypatch, tmp_path):
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(biakit.io, "read_image", stop)
    assert cli("info", str(tmp_path / "a.tif")).code == 130


def test_end_of_file_in_a_reader_is_not_an_abort(cli, monkeypatch, tmp_path):
    # typer treats EOFError as Ctrl-D at a prompt ("Aborted"); a truncated file raises it too
    def truncated(*args, **kwargs):
        raise EOFError("Ran out of input")

    monkeypatch.setattr(biakit.io, "read_image", truncated)
    result = cli("info", str(tmp_path / "a.tif"))
    assert result.code == 1
    assert result.err_lines == [
        "biakit: error: internal error (EOFError: Ran out of input); "
        "re-run with BIAKIT_DEBUG=1 for the traceback and report it"
    ]
    assert result.err.count("\n") == 1


def test_value_errors_of_biakit_itself_are_user_errors():
    from biakit.axes import validate_axes
    from biakit.errors import ConfigError

    with pytest.raises(ValueError, match="repeats a letter") as info:
        validate_axes("YY", 2)
    assert is_user_error(info.value)
    try:
        np.zeros(3).reshape(2, 2)
    except ValueError as err:
        assert not is_user_error(err)
    assert is_user_error(ConfigError("x")) and is_user_error(FileNotFoundError("x"))
    assert not is_user_error(KeyError("x")) and not is_user_error(ValueError("no traceback"))


def test_torch_advice_to_unpickle_is_removed():
    message = (
        "dm/weights.pt: Weights only load failed. This file can still be loaded, to do so "
        "you have two options, do those steps only if you trust the source of the "
        "checkpoint.\n (1) In PyTorch 2.6, we changed the default value of the `weights_only` "
        "argument in `torch.load` from `False` to `True`. Re-running `torch.load` with "
        "`weights_only` set to `False` will likely succeed"
    )
    cleaned = clean_message(message)
    assert "weights_only" not in cleaned and "\n" not in cleaned
    assert cleaned.startswith("dm/weights.pt: the file holds pickled Python code")
    assert clean_message("plain\n\tmessage ") == "plain message"


def test_run_cli_returns_the_command_result():
    import typer

    app = typer.Typer()

    @app.command()
    def seven() -> int:
        return 7

    assert run_cli(typer.main.get_command(app), []) == 7


def test_fail_is_a_user_error(cli):
    from biakit.cli._errors import fail
    from biakit.errors import UserError

    with pytest.raises(UserError, match=r"^bad thing$"):
        fail("bad thing")
