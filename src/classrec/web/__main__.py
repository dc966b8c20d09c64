"""`python -m classrec.web`: serve the app with uvicorn (settings from the environment);
`python -m classrec.web backup FILE`: a consistent copy of the database while it serves."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import uvicorn

from classrec.errors import ClassRecError
from classrec.pipeline import limit_blas_threads
from classrec.web.app import create_app
from classrec.web.backup import backup_database
from classrec.web.config import Settings
from classrec.web.logs import setup_logging


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m classrec.web", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    backup = commands.add_parser("backup", help="copy the SQLite database (safe while serving)")
    backup.add_argument("file", type=Path, help="the new file to write")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    os.umask(0o077)  # recordings, the database, backups and logs readable by this user only
    if args.command == "backup":
        try:
            size = backup_database(settings.database_url, args.file)
        except (ClassRecError, OSError) as exc:
            sys.exit(f"classrec.web: error: {exc}")
        print(f"{args.file}: {size / 2**20:.1f} MB")
        return
    serve(settings)


def serve(settings: Settings) -> None:
    setup_logging(settings.log_level)
    # the server runs many small computations side by side (the live hub's ticks, uploads in
    # the thread pool): BLAS threads would only spin on the cores the sockets need
    limit_blas_threads()
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
