"""The module the ``celery`` command loads: ``celery -A workers.main worker``.

The one place an app is built at import, because that is how the Celery CLI finds it; it reads
its settings from the environment like every entry point.
"""

from warmup.settings import load_settings
from workers.app import create_app

app = create_app(load_settings())
