"""napari widget tests: a real viewer under a (virtual) display, work run synchronously.

Without a display (no ``DISPLAY``/``WAYLAND_DISPLAY`` and no offscreen Qt platform) or
without napari and pytest-qt installed, every test here is skipped with the reason;
``.ci/run`` starts Xvfb so CI runs them. ``make_napari_viewer`` comes from napari's
pytest plugin. Work started by widgets runs in the calling thread (``sync`` fixture,
autouse) unless a test asks for the asynchronous path with ``asynchronous``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "napari"


def _skip_reason() -> str | None:
    for module in ("napari", "pytestqt", "qtpy"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'biakit[napari]' pytest-qt)"
    offscreen = os.environ.get("QT_QPA_PLATFORM", "") in {"offscreen", "minimal"}
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or offscreen):
        return "no display: run under Xvfb (xvfb-run -a pytest ...), as .ci/run does"
    return None


_REASON = _skip_reason()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip this folder's tests, with the reason, when no display or napari is available."""
    if _REASON is None:
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=_REASON))


@pytest.fixture(autouse=True)
def sync(request: pytest.FixtureRequest):
    """Run widget work synchronously unless the test uses the ``asynchronous`` fixture."""
    if _REASON is not None or "asynchronous" in request.fixturenames:
        yield
        return
    from biakit.napari._threading import synchronous

    with synchronous():
        yield


@pytest.fixture
def asynchronous():
    """Keep napari's real thread workers (for the one test of the asynchronous path)."""
    yield


@pytest.fixture
def screenshot(tmp_path):
    """Save ``viewer.screenshot`` of a widget's state as NAME.png.

    Into docs/napari/ (the README's pictures) only with ``BIAKIT_SCREENSHOTS=1``; otherwise
    into the test's temporary folder, so a test run leaves the source tree untouched.
    """
    folder = SCREENSHOTS if os.environ.get("BIAKIT_SCREENSHOTS") == "1" else tmp_path

    def save(viewer, name: str) -> Path:
        import imageio.v3 as iio

        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{name}.png"
        viewer.window.resize(1400, 860)  # room for the canvas beside a tall dock widget
        viewer.reset_view()
        image = viewer.screenshot(canvas_only=False, flash=False)
        iio.imwrite(target, image)
        return target

    return save
