import numpy as np
import pytest

from biakit.data import synthetic_nuclei, synthetic_scribbles
from biakit.features import compute_features, preset
from biakit.pixel import PixelClassifier, _warmup, warm_up


def _n_signatures():
    return {d.py_func.__name__: len(d.signatures) for d, _ in _warmup._signatures() if d}


def test_warm_up_compiles_what_fit_and_predict_use():
    warm_up(background=False)
    before = _n_signatures()
    assert all(n >= 1 for n in before.values())
    s = synthetic_nuclei((300, 40), n_objects=3, radius=(4, 6), seed=0)
    scribbles = synthetic_scribbles(s.mask, fraction=0.05, seed=0)
    clf = PixelClassifier(n_estimators=2).fit(s.image, scribbles)
    clf.predict(s.image)  # parallel forest kernel
    clf.predict(s.image[:8, :8])  # serial forest kernel
    compute_features(np.ones((6, 12, 12), np.float32), preset("fast", ndim=3))
    assert _n_signatures() == before  # nothing new had to be compiled


def test_background_thread_is_reused_and_finishes():
    thread = warm_up((2,))
    assert warm_up((2,)) is thread
    thread.join(timeout=120)
    assert not thread.is_alive()


def test_environment_turns_off_automatic_warm_up(monkeypatch):
    calls = []
    monkeypatch.setattr(_warmup, "warm_up", lambda *a, **k: calls.append(a))
    monkeypatch.setenv("BIAKIT_WARMUP", "0")
    _warmup.warm_up_on_import()
    assert calls == []
    monkeypatch.setenv("BIAKIT_WARMUP", "1")
    _warmup.warm_up_on_import()
    assert calls == [((2,),)]


def test_failures_are_silent(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler")

    monkeypatch.setattr(_warmup, "warm_up", broken)
    _warmup.warm_up_on_import()  # does not raise

    class Dispatcher:
        def compile(self, signature):
            raise TypeError("bad signature")

    _warmup._compile([(Dispatcher(), ()), (None, ())])  # does not raise


def test_errors():
    with pytest.raises(ValueError, match=r"ndims must hold 2 and / or 3, got \(4,\)"):
        warm_up((4,))
    with pytest.raises(ValueError, match=r"ndims must hold 2 and / or 3, got \(\)"):
        warm_up(())
