"""Threads that keep using an engine's connections after the work that started them.

A database is disposed only once they are done: a thread still reading would otherwise
hold its connection into a pool that no longer exists, and its reads would race
whatever the owner does next (a migration, emptying the tables).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from sqlalchemy import Engine

_lock = threading.Lock()
_threads: weakref.WeakKeyDictionary[Engine, dict[str, threading.Thread]] = (
    weakref.WeakKeyDictionary()
)


def start_once(engine: Engine, name: str, target: Callable[[Engine], None]) -> bool:
    """Run `target(engine)` in a daemon thread named `name`, unless one of that name is
    still running for `engine`. True when a thread was started."""
    with _lock:
        running = _threads.setdefault(engine, {})
        thread = running.get(name)
        if thread is not None and thread.is_alive():
            return False
        thread = threading.Thread(target=target, args=(engine,), name=name, daemon=True)
        running[name] = thread
        thread.start()
        return True


def wait_for_background(engine: Engine | None = None, timeout: float | None = None) -> bool:
    """Wait until the threads of `engine` (of every engine when None) have ended, at most
    `timeout` seconds for each. True when none is left running."""
    with _lock:
        if engine is None:
            threads = [t for running in _threads.values() for t in running.values()]
        else:
            threads = list(_threads.get(engine, {}).values())
    others = [thread for thread in threads if thread is not threading.current_thread()]
    for thread in others:
        thread.join(timeout)
    return not any(thread.is_alive() for thread in others)
