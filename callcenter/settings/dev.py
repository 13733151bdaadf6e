"""Local development: `make run`."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)

# The demo of `make run` may set itself up here (service.services.demo).
DEMO_ALLOWED = True
