from tests.marketplaces.backmarket.fixtures import *  # noqa: F401,F403
