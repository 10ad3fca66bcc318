import pytest


@pytest.fixture
def one_torch_thread():
    """Run on one torch thread (tiny networks: thread overhead dominates), then restore."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
