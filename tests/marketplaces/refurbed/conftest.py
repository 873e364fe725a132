import pytest

from tests.marketplaces.refurbed.sim import make_sim


@pytest.fixture
def sim():
    return make_sim()
