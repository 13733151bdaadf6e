"""Settings mypy's Django plugin loads (pyproject.toml [tool.django-stubs]): the test settings.

The plugin only imports settings and models, it never connects, so placeholder service URLs
stand in when none are set: `mypy` runs from a fresh clone with no database or Redis.
"""

import os

os.environ.setdefault("DATABASE_URL", "postgres://typecheck@127.0.0.1:1/typecheck")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")

from .test import *  # noqa: E402, F403
