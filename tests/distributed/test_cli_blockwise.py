"""Command line: --scheduler / --block-size, a real loopback Dask cluster, bad values."""

import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from biakit.cli import main
from biakit.data import synthetic_nuclei
from biakit.io import ImageMeta, read_labels, write_image

CONFIG = """\
name: nuclei
steps:
  - step: gaussian
    sigma: 1.0
  - step: threshold
    method: otsu
  - step: fill_holes
  - step: remove_small_objects
    min_size: 10
"""


@pytest.fixture
def job(tmp_path):
    image = synthetic_nuclei((96, 100), n_objects=10, radius=(4.0, 7.0), seed=5).image
    write_image(tmp_path / "cells.ome.zarr", image, ImageMeta("YX"))
    (tmp_path / "p.yaml").write_text(CONFIG)
    return tmp_path, image


def _run(tmp_path, *options):
    """``biakit pipeline run`` of the job's YAML on its image into ``out``, with ``options``."""
    args = ["pipeline", "run", str(tmp_path / "p.yaml"), "-i", str(tmp_path / "cells.ome.zarr")]
    return main([*args, "-o", str(tmp_path / "out"), *options])


def _expected(tmp_path, image):
    from biakit import Pipeline

    return Pipeline.from_yaml(tmp_path / "p.yaml").run(image).labels


def _same_partition(a, b):
    pairs = np.unique(np.stack([np.ravel(a), np.ravel(b)]), axis=1)
    return len(set(pairs[0])) == len(set(pairs[1])) == pairs.shape[1]


def _assert_written_labels_match(tmp_path, image):
    """The labels written to ``out`` partition the image as the pipeline run in memory does."""
    labels, _ = read_labels(tmp_path / "out" / "cells.ome.zarr", lazy=False)
    assert _same_partition(labels, _expected(tmp_path, image))


def test_bad_scheduler_exits_2_with_a_clear_message(job, capsys):
    tmp_path, _ = job
    code = _run(tmp_path, "--scheduler", "slurm")
    assert code == 2
    assert "scheduler: expected 'local', 'threads', a scheduler address" in capsys.readouterr().err


def test_threads_scheduler_writes_ome_zarr_per_input(job):
    tmp_path, image = job
    code = _run(tmp_path, "--scheduler", "threads", "--block-size", "32")
    assert code == 0
    _assert_written_labels_match(tmp_path, image)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_cli_job_on_a_loopback_scheduler_with_two_workers(job):
    from distributed import Client

    tmp_path, image = job
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nthreads",
                        "1",
                        "--memory-limit",
                        "1GiB",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="5s") as client:
                    client.wait_for_workers(2, timeout=60)
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        code = _run(tmp_path, "--scheduler", address, "--block-size", "32")
        assert code == 0
        _assert_written_labels_match(tmp_path, image)
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
