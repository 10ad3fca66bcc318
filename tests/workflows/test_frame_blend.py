"""The blend toward persistence: the margin that keeps inconsistent gains near persistence."""

import numpy as np
import pytest

from biakit.workflows._frame_blend import fit_blend, forecast_sums


def test_fit_blend_margin_keeps_inconsistent_gains_near_persistence():
    # forecast 1: the predicted change is about right; forecast 2: partly wrong
    last = np.zeros((1, 4))
    truths = [np.array([[1.2, 0.9, 1.1, 0.8]]), np.array([[1.0, -1.0, 1.0, 0.5]])]
    pred = np.array([[1.0, 1.0, 1.0, 1.0]])
    sums = [forecast_sums(pred, last, t) for t in truths]
    (plain,) = fit_blend(sums, margin=0.0)
    (robust,) = fit_blend(sums)  # margin 1 standard error

    def gains(a):  # per-forecast PSNR gain (dB) over persistence, computed directly
        return np.array([10 * np.log10(np.sum(t**2) / np.sum((a * pred - t) ** 2))
                         for t in truths])  # fmt: skip

    def low(a):
        g = gains(a)
        return g.mean() - g.std(ddof=1) / np.sqrt(2)

    assert gains(plain).mean() > 0 and low(plain) < 0  # positive on average, not consistently
    assert 0 < robust < plain and low(robust) >= -1e-9
    assert low(robust + 0.005) < 0  # the largest grid weight that clears the margin
    with pytest.raises(ValueError, match="margin=-1"):
        fit_blend(sums, margin=-1)
