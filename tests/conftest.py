"""Session setup shared by all tests.

Tests never reach beyond this machine: hub libraries are told they are
offline (a test of the hub loader's failure path points at loopback itself).
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from e2e_support import local_corpus, ray_tmp  # noqa: E402, F401  (fixtures)
from llm_support import ray_llm  # noqa: E402, F401  (fixture: Ray Data LLM with a stand-in engine)
from store_support import s3_env, s3_server  # noqa: E402, F401  (fixtures: a local S3 server)
