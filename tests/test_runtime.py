"""biakit.runtime: OpenMP waiting policy at import, thread choice, overrides and errors."""

import json
import os
import subprocess
import sys

import pytest

from biakit import runtime
from biakit.errors import ParameterError

_USER_VARS = (*runtime.WAIT_VARIABLES, "BIAKIT_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")


def _fresh(code: str, **env: str) -> dict:
    """Run ``code`` (which prints JSON) in a new interpreter with only ``env`` of the user vars."""
    clean = {k: v for k, v in os.environ.items() if k not in _USER_VARS}
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


_REPORT = (
    "import json, os, biakit\n"
    "info = biakit.runtime.runtime_info()\n"
    "info['numba'] = os.environ.get('NUMBA_NUM_THREADS')\n"
    "print(json.dumps(info))"
)


@pytest.fixture
def state(monkeypatch):
    """Isolate the module state and the variables a test changes; restore torch's threads."""
    for name in _USER_VARS:
        monkeypatch.delenv(name, raising=False)
    saved = dict(runtime._state)
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    runtime._state.update(override=None, applied=None)
    yield monkeypatch
    runtime._state.clear()
    runtime._state.update(saved)
    if before is not None:
        torch.set_num_threads(before)


# ------------------------------------------------------------ policy applied at import


def test_import_sets_passive_wait_policy():
    info = _fresh(_REPORT)
    assert info["wait_policy"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert info["set_by_biakit"] == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert info["imported_before_biakit"] == []
    assert info["numba"] is None  # numba keeps its default without BIAKIT_THREADS


@pytest.mark.parametrize(
    "env",
    [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "1000"}, {"KMP_BLOCKTIME": "200"}],
)
def test_user_wait_setting_wins(env):
    info = _fresh(_REPORT, **env)
    assert info["set_by_biakit"] == {}
    name, value = next(iter(env.items()))
    assert info["wait_policy"][name] == value
    if name != "OMP_WAIT_POLICY":
        assert info["wait_policy"]["OMP_WAIT_POLICY"] is None


def test_biakit_threads_sets_numba_threads_at_import():
    info = _fresh(_REPORT, BIAKIT_THREADS="3")
    assert (info["numba"], info["threads"]) == ("3", 3)
    assert _fresh(_REPORT, BIAKIT_THREADS="3", NUMBA_NUM_THREADS="1")["numba"] == "1"
    numba_only = "import json, os, biakit; print(json.dumps(os.environ.get('NUMBA_NUM_THREADS')))"
    assert _fresh(numba_only, BIAKIT_THREADS="many") is None  # import never fails on it


def test_torch_imported_first_is_reported_at_debug_level():
    code = (
        "import json, logging, sys, types\n"
        "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format='%(message)s')\n"
        "sys.modules['torch'] = types.ModuleType('torch')  # stands in for an imported torch\n"
        "import biakit\n"
        "print(json.dumps(biakit.runtime._state['policy']))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in _USER_VARS}
    out = subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    log, report = out.stdout.strip().splitlines()
    assert "torch imported before biakit: OMP_WAIT_POLICY=PASSIVE comes too late" in log
    assert json.loads(report) == {"set": {"OMP_WAIT_POLICY": "PASSIVE"}, "late": ["torch"]}
    assert out.stderr == ""


# ------------------------------------------------------------ thread count


def test_available_cpus_affinity_and_quota(state):
    state.setattr(runtime.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    state.setattr(runtime, "_cgroup_cpu_quota", lambda: None)
    assert runtime.available_cpus() == 4
    state.setattr(runtime, "_cgroup_cpu_quota", lambda: 1.5)
    assert runtime.available_cpus() == 2
    state.setattr(runtime, "_cgroup_cpu_quota", lambda: 0.2)
    assert runtime.available_cpus() == 1
    state.setattr(runtime.os, "sched_getaffinity", lambda pid: {5}, raising=False)
    state.setattr(runtime, "_cgroup_cpu_quota", lambda: None)
    assert runtime.available_cpus() == runtime.threads() == 1


def test_cgroup_quota_v2_and_v1(tmp_path):
    proc = tmp_path / "cgroup"
    root = tmp_path / "fs"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "cpu.max").write_text("max 100000\n")
    (root / "a" / "cpu.max").write_text("250000 100000\n")
    proc.write_text("0::/a/b\n")
    assert runtime._cgroup_cpu_quota(str(root), str(proc)) == 2.5
    (root / "cpu.max").write_text("150000 100000\n")  # the mount root (a container's own)
    assert runtime._cgroup_cpu_quota(str(root), str(proc)) == 1.5
    v1 = root / "cpu" / "job"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    proc.write_text("3:cpu,cpuacct:/job\n4:memory:/x\n")
    assert runtime._cgroup_cpu_quota(str(root), str(proc)) == 0.5
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")  # unlimited
    assert runtime._cgroup_cpu_quota(str(root), str(proc)) is None
    assert runtime._cgroup_cpu_quota(str(root), str(tmp_path / "missing")) is None


def test_threads_order_of_precedence(state):
    state.setattr(runtime, "available_cpus", lambda: 2)
    assert runtime.threads() == 2
    state.setenv("OMP_NUM_THREADS", "3")
    assert runtime.threads() == 3
    state.setenv("BIAKIT_THREADS", "5")
    assert runtime.threads() == 5
    runtime.set_threads(1)
    assert runtime.threads() == 1
    runtime.set_threads(None)
    for value in ("auto", " AUTO ", ""):
        state.setenv("BIAKIT_THREADS", value)
        assert runtime.threads() == 3


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5"])
def test_invalid_biakit_threads(state, value):
    state.setenv("BIAKIT_THREADS", value)
    with pytest.raises(ParameterError, match=rf"BIAKIT_THREADS='{value}'.*positive integer"):
        runtime.threads()


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_set_threads_errors(state, value):
    with pytest.raises(ParameterError, match=r"set_threads\(n=.*expected a positive integer"):
        runtime.set_threads(value)


def test_pick_device_applies_threads_once(state):
    torch = pytest.importorskip("torch")
    from biakit.nn.device import pick_device

    state.setenv("BIAKIT_THREADS", "1")
    pick_device("cpu")
    assert torch.get_num_threads() == 1
    torch.set_num_threads(2)  # the user's own choice in between is kept
    pick_device("cpu")
    assert torch.get_num_threads() == 2
    runtime.set_threads(3)  # applied at once to an imported torch
    assert torch.get_num_threads() == 3 == runtime.runtime_info()["torch_threads"]
    runtime.set_threads(None)
    state.setenv("BIAKIT_THREADS", "x")
    with pytest.raises(ParameterError, match="BIAKIT_THREADS='x'"):
        pick_device("cpu")


# ------------------------------------------------------------ a user's torch.set_num_threads

_USER_THREADS = (
    "import json, sys, torch\n"
    "user = torch.get_num_threads() + 1  # differs from torch's own default\n"
    "torch.set_num_threads(user)\n"
    "import biakit.runtime as rt\n"
    "rt.available_cpus = lambda: 1  # biakit's automatic choice: 1 thread\n"
    "{extra}\n"
    "got = rt.apply_torch_threads()\n"
    "print(json.dumps({{'user': user, 'got': got, 'torch': torch.get_num_threads()}}))"
)


def test_user_torch_threads_before_first_call_are_kept():
    out = _fresh(_USER_THREADS.format(extra=""))
    assert out["got"] == out["torch"] == out["user"]  # not biakit's 1


def test_biakit_threads_variable_wins_over_user_torch_threads():
    out = _fresh(_USER_THREADS.format(extra=""), BIAKIT_THREADS="1")
    assert out["got"] == out["torch"] == 1


def test_set_threads_wins_over_user_torch_threads():
    out = _fresh(_USER_THREADS.format(extra="rt.set_threads(1)"))
    assert out["got"] == out["torch"] == 1


def test_torch_default_threads_get_biakit_choice():
    code = (
        "import json, torch, biakit.runtime as rt\n"
        "default = torch.get_num_threads()\n"
        "rt.available_cpus = lambda: default + 1  # differs from torch's own default\n"
        "print(json.dumps({'default': default, 'got': rt.apply_torch_threads()}))"
    )
    out = _fresh(code)
    assert out["got"] == out["default"] + 1
    with_omp = _fresh(code.replace("default + 1", "7"), OMP_NUM_THREADS="2")
    assert with_omp == {"default": 2, "got": 2}  # OMP_NUM_THREADS is biakit's choice too


def test_torch_default_threads_follows_torch_variables(state):
    torch = pytest.importorskip("torch")
    cores = torch.get_num_interop_threads()
    assert runtime._torch_default_threads(torch) == cores
    state.setenv("OMP_NUM_THREADS", "3")
    assert runtime._torch_default_threads(torch) == 3
    state.setenv("MKL_NUM_THREADS", "5")  # torch lets MKL_NUM_THREADS win
    assert runtime._torch_default_threads(torch) == 5
    state.setenv("OMP_NUM_THREADS", "x")
    state.setenv("MKL_NUM_THREADS", "0")  # invalid values: torch's core count
    assert runtime._torch_default_threads(torch) == cores
