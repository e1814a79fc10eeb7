"""Session fixtures shared by the end-to-end, resume and CLI tests."""

from e2e_support import local_corpus, ray_tmp  # noqa: F401  (fixtures)
