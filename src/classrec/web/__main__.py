"""`python -m classrec.web`: serve the app with uvicorn (settings from the environment)."""

from __future__ import annotations

import os

import uvicorn

from classrec.web.app import create_app
from classrec.web.config import Settings
from classrec.web.logs import setup_logging


def main() -> None:
    settings = Settings.from_env()
    os.umask(0o077)  # recordings, the database and logs readable by this user only
    setup_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        ws_max_size=settings.max_frame_bytes + 1024,
        ws_per_message_deflate=False,  # PCM barely compresses: deflate only cost CPU both ends
        server_header=False,
        proxy_headers=settings.trust_proxy_headers,  # else X-Forwarded-For picks the address
    )


if __name__ == "__main__":
    main()
