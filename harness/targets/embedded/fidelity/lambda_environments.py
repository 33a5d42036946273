"""Warm execution environments for the embedded Lambda runtime (``lambda_runtime.serve``).

Lambda runs a version's invocations in execution environments it keeps warm: the first invocation
pays the init phase (the runtime starts, the handler's module is imported), later ones reuse the
environment and its module state; a new version or configuration gets new environments, an
environment serves one invocation at a time, and one is discarded after a timeout, a runtime exit or
an init failure (Lambda Developer Guide, "Lambda execution environment lifecycle").

Here an environment is a process forked from one *zygote* per emulator process (``python -I
lambda_runtime.py --zygote``, the runtime loaded and nothing else): a fork costs ~1 ms where starting
``python -I`` cost ~35 ms per invocation, which was half of a checklist's time at 300 functions. The
environment's key is everything that makes Lambda create a new one: the version, its code (CodeSha256)
and its configuration (handler, runtime, memory, timeout, environment variables). Idle environments
are kept up to ``MAX_IDLE`` (least recently used ones are shut down), as Lambda eventually reclaims idle
ones.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNTIME_SCRIPT = Path(__file__).with_name("lambda_runtime.py")
RESULT = "\x1d"  # lambda_runtime.RESULT: an invocation's result line in the environment's stream
MAX_IDLE = 32  # idle environments kept per emulator process
SUPPORTED = hasattr(os, "fork") and hasattr(socket, "send_fds")  # POSIX with SCM_RIGHTS (Python >= 3.9)
EnvironmentKey = tuple[Any, ...]  # lambda_invoke.environment_key: version, code and configuration


class EnvironmentGone(RuntimeError):
    """The environment ended before answering (handler exited the process, or it was killed)."""


@dataclass
class Environment:
    """One forked execution environment: its process and the channel to it."""

    pid: int
    channel: socket.socket
    stream: Any = field(init=False)
    log_stream: str | None = None  # Lambda writes one log stream per execution environment

    def __post_init__(self) -> None:
        self.stream = self.channel.makefile("rb")

    def run(self, request: dict[str, Any], timeout: float) -> tuple[dict[str, Any] | None, str]:
        """(result, output) of one invocation; result None when the environment ended first.
        Raises ``TimeoutError`` when nothing came back within ``timeout`` seconds."""
        self.channel.settimeout(timeout)
        self.channel.sendall((json.dumps(request) + "\n").encode())
        output: list[str] = []
        while True:
            try:
                line = self.stream.readline()
            except (socket.timeout, TimeoutError) as exc:
                raise TimeoutError(f"execution environment {self.pid} did not answer in {timeout:.1f} s") from exc
            if not line:
                return None, "".join(output)
            text, sep, frame = line.decode("utf-8", "replace").partition(RESULT)
            output.append(text)
            if sep:
                return json.loads(frame), "".join(output)

    def close(self) -> None:
        """Shut the environment down (EOF on its channel ends its loop)."""
        try:
            self.stream.close()
            self.channel.close()
        except OSError:
            pass

    def kill(self) -> None:
        """End a wedged environment at once."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.close()


class Zygote:
    """The process environments are forked from; started on first use, ended with this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.control: socket.socket | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def _start(self) -> socket.socket:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(RUNTIME_SCRIPT), "--zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            cwd=str(RUNTIME_SCRIPT.parent),
        )
        theirs.close()
        self.control = ours
        return ours

    def fork(self) -> Environment:
        """A fresh environment (its init phase runs on its first request)."""
        with self.lock:
            control = self.control or self._start()
            control.sendall(b"fork\n")
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
            if not fds:
                raise EnvironmentGone("the runtime zygote stopped answering")
        return Environment(int(message.decode().strip()), socket.socket(fileno=fds[0]))

    def close(self) -> None:
        """End the zygote (its environments end with their channels)."""
        with self.lock:
            if self.control is not None:
                self.control.close()
                self.control = None
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                self.proc = None


class Pool:
    """Idle environments by key; one invocation per environment at a time.

    (Forking spare environments ahead of need was measured and dropped: on two cores the refilling
    thread slowed a 300-function checklist's invocations by ~30 %.)"""

    def __init__(self) -> None:
        self.zygote = Zygote()
        self.lock = threading.Lock()
        self.idle: OrderedDict[EnvironmentKey, list[Environment]] = OrderedDict()

    def acquire(self, key: EnvironmentKey) -> Environment:
        """An idle environment of ``key``, or a new one."""
        with self.lock:
            waiting = self.idle.get(key)
            if waiting:
                self.idle.move_to_end(key)
                return waiting.pop()
        return self.zygote.fork()

    def release(self, key: EnvironmentKey, env: Environment) -> None:
        """Keep ``env`` warm for ``key``'s next invocation (shutting down the least recently used beyond
        ``MAX_IDLE``)."""
        with self.lock:
            self.idle.setdefault(key, []).append(env)
            self.idle.move_to_end(key)
            while sum(len(v) for v in self.idle.values()) > MAX_IDLE:
                oldest, envs = next(iter(self.idle.items()))
                envs.pop(0).close()
                if not envs:
                    del self.idle[oldest]

    def close(self) -> None:
        """Shut every environment and the zygote down."""
        with self.lock:
            for envs in self.idle.values():
                for env in envs:
                    env.close()
            self.idle.clear()
        self.zygote.close()


_pool: Pool | None = None
_pool_lock = threading.Lock()


def pool() -> Pool:
    """This process's pool (closed at exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = Pool()
            atexit.register(_pool.close)
        return _pool
