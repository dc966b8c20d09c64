"""ClassRec web app: record lectures live, upload recordings, and browse them by speech regions.

`python -m classrec.web` serves it on 127.0.0.1:8000 (settings from environment variables, see
`config.py`). `create_app()` builds the FastAPI application for tests and other servers.
"""

from classrec.web.app import create_app

__all__ = ["create_app"]
