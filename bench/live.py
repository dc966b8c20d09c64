"""4. Live server under load: N WebSocket streams at real-time pace against the web app.

Needs the web app's protocol (docs/web.md); until the load generator lands this section reports
that it was skipped rather than failing the other benchmarks.
"""

from __future__ import annotations

from bench.common import Context, Section


def run(ctx: Context) -> Section:
    return Section(
        "Live server under load",
        "Not measured yet: the load generator waits for the web app's WebSocket protocol.",
    )
