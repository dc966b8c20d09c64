"""Run `classrec detect` jobs as Ray tasks: one task per file, on this machine or a cluster.

`classrec detect --engine ray DIR -o OUT` starts a local Ray runtime (`ray.init()`, one worker per
`--jobs`, default all cores); `--ray-address ray://HOST:10001` (or `auto` on a cluster node) uses
an existing cluster instead. Each task runs the very function the local process pool runs, on
one file, and writes that file's output itself, so the results are byte-identical to a local run.
On a cluster every node must see the input and output paths (shared storage) and have classrec
installed; see docs/scale-out.md.

Ray is optional (`pip install 'classrec[ray]'`): nothing imports this module unless asked.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from classrec.errors import ClassRecError


def _ray() -> Any:
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ClassRecError(
            "--engine ray needs Ray: pip install 'classrec[ray]' (or pip install ray)"
        ) from None


def connect(address: str | None = None, num_cpus: int | None = None) -> Any:
    """The Ray module, connected: to `address` if given (an existing cluster), else a local
    runtime with `num_cpus` workers. Reuses a connection made earlier in this process."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address:
        options["address"] = address
    elif num_cpus:
        options["num_cpus"] = num_cpus
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise ClassRecError(f"cannot reach the Ray cluster at {address}: {exc}") from None
    return ray


def run_tasks(
    worker: Callable[..., Any],
    jobs: Sequence[Any],
    settings: Sequence[Any],
    address: str | None = None,
    num_cpus: int | None = None,
) -> Iterator[Any]:
    """`worker(job, *settings)` for every job as a Ray task (1 CPU each); results in completion
    order. `worker` must be importable by name on the workers (a module-level function)."""
    ray = connect(address, num_cpus)
    remote = ray.remote(num_cpus=1, max_retries=2)(worker)
    shared = [ray.put(value) for value in settings]
    pending = [remote.remote(job, *shared) for job in jobs]
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])
