import typer
from typer.testing import CliRunner

from biakit.bioimageio import describe_package, is_package
from biakit.cli._export import export

from .conftest import make_workflow


def _app():
    app = typer.Typer()
    app.command("export")(export)
    app.command("other")(lambda: None)  # two commands: typer keeps the sub-command name
    return app


def test_cli_export_writes_a_package_that_passes_test_model(tmp_path):
    make_workflow("detection").save(tmp_path / "model")
    out = tmp_path / "model.zip"
    args = ["export", str(tmp_path / "model"), "--format", "bioimageio", "-o", str(out),
            "--weights", "pytorch_state_dict", "--author", "A. Person"]  # fmt: skip
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "test_model (pytorch_state_dict): passed" in result.output
    assert is_package(out) and not is_package(tmp_path / "model")
    lines = describe_package(out)
    assert any("biakit:  task 'detection'" in line for line in lines)
    assert any(line.startswith("weights: pytorch_state_dict") for line in lines)


def test_cli_export_rejects_an_unknown_format(tmp_path):
    result = CliRunner().invoke(_app(), ["export", str(tmp_path), "-o", "x.zip", "-f", "onnx"])
    assert result.exit_code != 0 and "expected one of bioimageio" in result.output
