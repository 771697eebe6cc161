import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# tiny test problems gain nothing from intra-op threads, and OpenMP barriers stall
# badly when another process holds a core: one thread keeps the suite fast and stable
torch.set_num_threads(1)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "cuda" in item.nodeid and not torch.cuda.is_available():
            item.add_marker(pytest.mark.skip(reason="no CUDA device on this machine"))


@pytest.fixture(scope="session")
def shared_data():
    """Path of the shared real datasets; skip when absent (CI has them)."""
    from skising.datasets import get_data_home

    home = Path(get_data_home())
    if not home.is_dir():
        pytest.skip(f"shared data not found at {home}; set SKISING_DATA")
    return home


@pytest.fixture(scope="session")
def horses():
    """A small real Weizmann-horse subset at 32 px: (train: 24 images, val: 8)."""
    from skising.datasets import load_weizmann_horse

    try:
        tr = load_weizmann_horse(size=32, split="train", n_images=24)
        va = load_weizmann_horse(size=32, split="val", n_images=8)
    except FileNotFoundError:
        pytest.skip("Weizmann horse data not available (set SKISING_DATA)")
    return tr, va
