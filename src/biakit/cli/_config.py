"""``biakit config``: JSON schemas of the task configs, and checking a YAML before a long run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

config_app = typer.Typer(
    help="Training configs: print a task's JSON schema, check a YAML file.",
    no_args_is_help=True,
)


@config_app.command("schema")
def schema(
    task: Annotated[str, typer.Argument(help="semantic | instance | detection")],
) -> None:
    """Print the complete JSON schema of a task's config (every component option)."""
    from biakit.workflows import config_schema

    typer.echo(json.dumps(config_schema(task), indent=2))


@config_app.command("check")
def check(
    config: Annotated[Path, typer.Argument(help="YAML training config.")],
) -> None:
    """Validate a training YAML and print it with every default filled in."""
    import yaml

    from biakit.workflows import load_workflow_config

    cfg = load_workflow_config(config)
    typer.echo(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False).rstrip())
    typer.echo(f"# {config}: valid {cfg.task} config", err=True)
