import pytest
from tl_support import quiet_cfg


@pytest.fixture
def cfg():
    return quiet_cfg()
