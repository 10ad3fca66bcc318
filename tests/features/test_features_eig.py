import numpy as np
import pytest
from skimage.feature import hessian_matrix, hessian_matrix_eigvals

from biakit.features import symmetric_eigenvalues


def _random_sym(n, d, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, d, d))
    return (a + a.transpose(0, 2, 1)) / 2


def _elems(m):
    d = m.shape[-1]
    return [m[:, i, j] for i in range(d) for j in range(i, d)]


def _check(m):
    ref = np.linalg.eigvalsh(m)[:, ::-1].T
    got = symmetric_eigenvalues(_elems(m))
    scale = np.abs(ref).max(axis=0) + 1e-30
    assert np.all(np.abs(got - ref) <= 1e-4 * scale + 1e-6)
    assert np.all(np.diff(got, axis=0) <= 0)


@pytest.mark.parametrize("d", [2, 3])
def test_random_matrices(d):
    _check(
        _random_sym(5000, d, seed=d)
        * 10.0 ** np.random.default_rng(1).uniform(-3, 3, 5000)[:, None, None]
    )


@pytest.mark.parametrize("d", [2, 3])
def test_repeated_eigenvalues(d):
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.standard_normal((400, d, d)))
    lam = np.round(rng.uniform(-3, 3, (400, d)))
    lam[:100, 1] = lam[:100, 0]  # double
    lam[100:200] = lam[100:200, :1]  # all equal (multiples of identity)
    lam[200:250, -1] = lam[200:250, -2] + 1e-4  # nearly equal
    m = np.einsum("nij,nj,nkj->nik", q, lam, q)
    _check(m)
    _check(np.zeros((3, d, d)))


def test_matches_skimage_hessian_eigvals():
    img = np.random.default_rng(0).random((20, 24, 28)).astype(np.float32)
    h = hessian_matrix(img, sigma=1.5, use_gaussian_derivatives=False)
    np.testing.assert_allclose(
        symmetric_eigenvalues(h), hessian_matrix_eigvals(h), rtol=1e-4, atol=1e-5
    )


def test_errors():
    with pytest.raises(ValueError, match="3 \\(2x2\\) or 6 \\(3x3\\)"):
        symmetric_eigenvalues([np.zeros(3)] * 4)
    with pytest.raises(ValueError, match="share one shape"):
        symmetric_eigenvalues([np.zeros(3), np.zeros(3), np.zeros(4)])
