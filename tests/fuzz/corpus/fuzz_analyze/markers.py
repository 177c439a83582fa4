import pytest
@pytest.mark.hardware("rocm", "cuda")
@pytest.mark.min_memory(4096)
@pytest.mark.priority(2)
@pytest.mark.browser("firefox")
def test_x(): pass
