"""Call-center CRM project and customer-profile domain."""

from .celery import app as celery_app

__all__ = ("celery_app",)
