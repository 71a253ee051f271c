"""The heavy collectors in a separate process, so the dashboard's UI keeps its interpreter lock.

Reading a 100,000-message queue (``postqueue -j``, parsing, preparing search text and sort orders) and
following a log that grows by thousands of lines a second (parse, statistics) are pure Python work. In
the UI process they compete with the Textual event loop for the GIL and a key press waits hundreds of
milliseconds. Here they run in ``python -m mailtop.tui.worker``, one process per role:

* ``queue``: ``poll(params)`` reads a snapshot (``PostfixQueue.snapshot``), keeps it in a
  :class:`~mailtop.tui.queueview.QueueModel` and answers with the :class:`~mailtop.tui.queueview.QueueView`
  the panel asked for (summary, counts, at most 1,000 display-ready rows; only the summary while the
  panel is hidden); ``view(params)`` re-sorts/filters the kept snapshot; ``group_ids(reason)``;
  ``check()``, the ``queue`` health check over the last listing (``mailtop.checks.run_live_queue``).
* ``log``: ``poll()`` is :meth:`mailtop.logs.monitor.LogMonitor.poll` with each event replaced by the
  :class:`~mailtop.tui.plain.ShownLine` the Log panel draws; ``trace(queue_id)``; ``check()``, the
  ``logs`` health check over the statistics kept here (``mailtop.checks.run_live_logs``).
* ``checks``: ``run(check_id)`` is :func:`mailtop.checks.run_checks` for one check of the registry, on
  one event loop in a niced thread of the child, so the checks still run concurrently with each other
  (each ``check:<id>`` source of the dashboard calls it on its own interval). In the UI process DNS, TLS and x509 parsing held
  the interpreter lock between key presses. The ``queue`` and ``logs`` checks are the queue and log
  workers' (above), from what they read anyway: run here, the ``logs`` check parsed the last
  ``thresholds.log_window`` of the log again on every run (600,000 lines at 2,000 lines/s; this
  process grew to ~1 GiB) and the ``queue`` check listed a 100,000-message queue a second time.

Protocol (stdin/stdout of the child, private to mailtop): frames of a 4-byte big-endian length and a
pickle. The first frame from the parent is the set-up (role, config, queue reader); then requests
``(id, method, args)``; answers ``(id, ok, result_or_error_text)``. Requests run in threads of the child,
so a quick ``view`` is answered while a slow ``poll`` reads the queue. The child exits when its stdin
closes (the dashboard quit or died). Nothing here imports Textual or Rich.

:class:`WorkerClient` is the parent's side: asyncio, started on first use, restarted after a crash
(the poll that saw the crash fails with the child's last stderr lines, so the panel shows STALE).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
import pickle
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
DEFAULT_READER = "mailtop.mta.postfix:PostfixQueue.from_config"
CALL_TIMEOUT = 120.0
"""Seconds a request may take (a 100k queue read is a few seconds; a hung ``postqueue`` is killed by
the queue core's own timeout well before)."""


WORKER_NICE = 5
"""Added to the nice value of the worker processes' poll threads."""

FULL_GC_EVERY = 20
"""The queue worker runs a full garbage collection every this many polls (it freezes the rest)."""


def resolve(spec: str) -> Callable[..., Any]:
    """``"package.module:attr.attr"`` -> the object."""
    module, _, attrs = spec.partition(":")
    obj: Any = importlib.import_module(module)
    for name in attrs.split(".") if attrs else ():
        obj = getattr(obj, name)
    return obj


# ---------------------------------------------------------------------------------------- the child
class QueueService:
    def __init__(self, cfg: Any, reader: str = DEFAULT_READER, reader_args: dict[str, Any] | None = None) -> None:
        from mailtop.tui.queueview import QueueModel

        self.cfg = cfg
        self.reader = resolve(reader)(cfg, **(reader_args or {}))
        self.model = QueueModel()
        self._poll_lock = threading.Lock()
        self._polls = 0
        self._read = threading.Condition()
        self._latest: tuple[Any, str] | None = None  # (summary of the last good read, error of the last read)

    def poll(self, params: Any) -> Any:
        with self._poll_lock:
            try:
                snapshot = self.reader.snapshot()
            except Exception as exc:
                self._set_latest(self._latest[0] if self._latest else None, describe(exc))
                raise
            self.model.load(snapshot)
            self._set_latest(snapshot.summary, "")
            del snapshot
            self._freeze()
        return self.model.view(params)

    def _set_latest(self, summary: Any, error: str) -> None:
        with self._read:
            self._latest = (summary, error)
            self._read.notify_all()

    def latest(self, wait: float) -> tuple[Any, str] | None:
        """The last read's (summary, error); waits up to ``wait`` seconds for the first read."""
        with self._read:
            self._read.wait_for(lambda: self._latest is not None, wait)
            return self._latest

    def check(self) -> Any:
        """The ``queue`` health check from the listing this worker read last (``checks.run_live_queue``)."""
        import asyncio

        from mailtop.checks import run_live_queue

        return asyncio.run(run_live_queue(self.cfg, self.latest))

    def _freeze(self) -> None:
        """Keep the snapshot just loaded (100,000 entries: several hundred thousand objects) out of the
        cyclic GC's passes: a full pass over it stopped this process for 100+ ms, and a re-sort asked
        for meanwhile waited. The previous snapshot is freed by reference counting (records hold no
        cycles); every ``FULL_GC_EVERY`` polls a full pass (unfreeze, collect, freeze) catches any
        cycles among frozen objects."""
        self._polls += 1
        if self._polls % FULL_GC_EVERY == 0:
            gc.unfreeze()
            gc.collect()
        gc.freeze()

    def view(self, params: Any) -> Any:
        return self.model.view(params, with_summary=False)

    def group_ids(self, reason: str) -> tuple[str, ...]:
        return self.model.group_ids(reason)


class LogService:
    def __init__(self, cfg: Any) -> None:
        from mailtop.logs.monitor import LogMonitor

        self.cfg = cfg
        self.monitor = LogMonitor(cfg)

    def poll(self) -> Any:
        from dataclasses import replace

        from mailtop.tui.plain import shown_line

        batch = self.monitor.poll()
        return replace(batch, lines=tuple(shown_line(e) for e in batch.lines))

    def trace(self, queue_id: str) -> Any:
        return self.monitor.trace(queue_id)

    def check(self) -> Any:
        """The ``logs`` health check from the statistics this worker keeps (``checks.run_live_logs``)."""
        import asyncio

        from mailtop.checks import run_live_logs

        return asyncio.run(run_live_logs(self.cfg, self.monitor))


class CheckService:
    """Runs health checks (``mailtop.checks``) for the dashboard: one event loop in a niced thread; each
    ``run`` request waits for its check's result in a thread of the request pool."""

    THREADS = 32
    """Request threads: each waits for one check, so every check source can wait at once."""

    def __init__(self, cfg: Any) -> None:
        import asyncio

        self.cfg = cfg
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def loop_thread() -> None:
            nice_this_thread()  # threads the checks start for blocking work inherit it
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=loop_thread, name="mailtop-checks", daemon=True)
        self.thread.start()
        started.wait(10.0)

    def run(self, check_id: str) -> Any:
        import asyncio

        from mailtop.checks import run_checks

        return asyncio.run_coroutine_threadsafe(run_checks(self.cfg, only=check_id), self.loop).result()


SERVICES: dict[str, Callable[..., Any]] = {"queue": QueueService, "log": LogService, "checks": CheckService}


def read_frame(stream: BinaryIO) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    (n,) = _HEADER.unpack(head)
    body = stream.read(n)
    if len(body) < n:
        raise EOFError
    return pickle.loads(body)


def frame(obj: Any) -> bytes:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(body)) + body


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


def serve(inp: BinaryIO, out: BinaryIO) -> int:
    setup = read_frame(inp)
    for p in setup.get("sys_path", ()):
        if p not in sys.path:
            sys.path.insert(0, p)
    service = SERVICES[setup["role"]](setup["config"], **setup.get("kwargs", {}))
    write_lock = threading.Lock()

    def answer(req_id: int, method: str, args: tuple[Any, ...]) -> None:
        try:
            result = (req_id, True, getattr(service, method)(*args))
        except Exception as exc:  # noqa: BLE001 - sent to the dashboard, which shows it
            result = (req_id, False, describe(exc))
        data = frame(result)
        with write_lock:
            out.write(data)
            out.flush()

    # a quick request (a re-sort) must not wait behind a slow poll: shorter GIL turns between threads
    sys.setswitchinterval(0.001)
    # Polls are background work: they run in one thread niced by WORKER_NICE, so on a busy host the
    # dashboard's UI gets the CPU first. Requests a key press waits for (a re-sort, a filter, a trace)
    # run in other threads at the normal priority: with the whole process niced they waited for the
    # CPU behind any other busy process (re-sort answers p99 70-100 ms on a loaded host).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailtop-poll", initializer=nice_this_thread) as polls, \
            ThreadPoolExecutor(max_workers=getattr(service, "THREADS", 4), thread_name_prefix="mailtop-worker") as pool:
        while True:
            try:
                req_id, method, args = read_frame(inp)
            except EOFError:
                return 0
            if method.startswith("_") or not hasattr(service, method):
                pool.submit(answer, req_id, "__unknown__", ())
                continue
            (polls if method == "poll" else pool).submit(answer, req_id, method, tuple(args))


def nice_this_thread() -> None:
    """Lower the calling thread's priority by ``WORKER_NICE`` (Linux: nice is per thread; elsewhere the
    whole process, which is what the worker did before)."""
    get_id = getattr(threading, "get_native_id", None)
    with contextlib.suppress(OSError, AttributeError):
        if sys.platform.startswith("linux") and get_id is not None:
            tid = get_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + WORKER_NICE)
        else:
            os.nice(WORKER_NICE)


def main() -> int:
    try:
        return serve(sys.stdin.buffer, sys.stdout.buffer)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0


# ---------------------------------------------------------------------------------------- the parent
class WorkerError(RuntimeError):
    """The worker process failed or a request in it raised (the text says which)."""


class WorkerClient:
    """Talks to one worker process from the dashboard's event loop."""

    def __init__(self, role: str, cfg: Any, *, kwargs: dict[str, Any] | None = None,
                 sys_path: tuple[str, ...] = ()) -> None:
        self.role = role
        self.cfg = cfg
        self.kwargs = dict(kwargs or {})
        self.sys_path = tuple(os.path.abspath(p) for p in sys_path)
        self.proc: asyncio.subprocess.Process | None = None
        self.pid: int | None = None
        self.starts = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next = 0
        self._lock: asyncio.Lock | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.stderr: deque[str] = deque(maxlen=20)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.alive:
                return
            root = str(Path(__file__).resolve().parents[2])
            env = dict(os.environ)
            env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH", "")])])
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mailtop.tui.worker",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                env=env, limit=2**20,
            )
            self.pid = self.proc.pid
            self.starts += 1
            assert self.proc.stdin is not None
            self.proc.stdin.write(frame({"role": self.role, "config": self.cfg, "kwargs": self.kwargs,
                                         "sys_path": self.sys_path}))
            await self.proc.stdin.drain()
            self._tasks = [asyncio.create_task(self._read(self.proc)), asyncio.create_task(self._errors(self.proc))]

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while True:
                head = await proc.stdout.readexactly(_HEADER.size)
                (n,) = _HEADER.unpack(head)
                req_id, ok, result = pickle.loads(await proc.stdout.readexactly(n))
                fut = self._pending.pop(req_id, None)
                if fut is not None and not fut.done():
                    if ok:
                        fut.set_result(result)
                    else:
                        fut.set_exception(WorkerError(result))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        rc = await proc.wait()
        await asyncio.sleep(0.05)  # let the stderr reader catch the last lines
        why = f"{self.role} worker exited (rc {rc})" + (f": {self.stderr[-1]}" if self.stderr else "")
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(WorkerError(why))
        self._pending.clear()

    async def _errors(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while line := await proc.stderr.readline():
            self.stderr.append(line.decode("utf-8", "replace").rstrip())

    async def call(self, method: str, *args: Any, timeout: float = CALL_TIMEOUT) -> Any:
        if not self.alive:
            await self.start()
        assert self.proc is not None and self.proc.stdin is not None
        self._next += 1
        req_id = self._next
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        try:
            self.proc.stdin.write(frame((req_id, method, args)))
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            self._pending.pop(req_id, None)
            raise WorkerError(f"{self.role} worker is gone: {describe(exc)}") from exc
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(req_id, None)

    async def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.returncode is None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 2.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class QueueWorker(WorkerClient):
    """The ``queue`` source: ``fetch`` polls with the view the Queue panel wants (``queue_params``)."""

    def __init__(self, cfg: Any, **kw: Any) -> None:
        super().__init__("queue", cfg, **kw)
        from mailtop.tui.queueview import QueueViewParams

        self.queue_params: Any = QueueViewParams(limit=0)

    async def fetch(self) -> Any:
        return await self.call("poll", self.queue_params)

    async def queue_view(self, params: Any) -> Any:
        return await self.call("view", params, timeout=30.0)

    async def check(self) -> Any:
        """The ``check:queue`` source: the ``queue`` check over this worker's last listing."""
        return await self.call("check")

    async def queue_group_ids(self, reason: str) -> tuple[str, ...]:
        return await self.call("group_ids", reason, timeout=30.0)


class LogWorker(WorkerClient):
    """The ``log`` source: new lines ready to show, window statistics, traces."""

    def __init__(self, cfg: Any, **kw: Any) -> None:
        super().__init__("log", cfg, **kw)

    async def fetch(self) -> Any:
        return await self.call("poll")

    async def trace(self, queue_id: str) -> Any:
        return await self.call("trace", queue_id, timeout=10.0)

    async def check(self) -> Any:
        """The ``check:logs`` source: the ``logs`` check over this worker's statistics."""
        return await self.call("check")


class CheckWorker(WorkerClient):
    """The ``check:<id>`` sources: every health check runs in this one worker process."""

    def __init__(self, cfg: Any, **kw: Any) -> None:
        super().__init__("checks", cfg, **kw)

    def fetcher(self, check_id: str) -> Callable[[], Any]:
        async def fetch() -> Any:
            return await self.call("run", check_id)

        return fetch


if __name__ == "__main__":
    raise SystemExit(main())
