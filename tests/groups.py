"""Which tests share a pytest-xdist worker (``--dist loadgroup``): those that need one resource at a
time, or that would each pay a once-per-process setup in every worker."""

import pytest

# Ray instances (a cluster started by hand, local ones) on 127.0.0.2: one at a time
RAY = pytest.mark.xdist_group("ray")
# escnn samples fullOctaOnR3's kernel bases once per process (10-12 s on 2 cores): pay it once
ESCNN_OH = pytest.mark.xdist_group("escnn-oh")
