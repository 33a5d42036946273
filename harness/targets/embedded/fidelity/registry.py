"""Which accounts the fidelity extensions act for, and the idempotent patching of moto's classes.

moto's models are process-global, but the extensions must change behaviour only for accounts that an
``EmbeddedTarget(fidelity=True)`` serves: a plain moto user (``mock_aws`` in a unit test, or an
``EmbeddedTarget(fidelity=False)`` used as the "moto alone" reference) in the same process keeps
moto's own behaviour. Every patched method therefore asks :func:`context` first and falls back to the
original when the account is not registered.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any, Callable, Iterable

from harness.clock import Clock

# DynamoDB API reference, PointInTimeRecoveryDescription: "LatestRestorableDateTime is typically
# 5 minutes before the current time." A drill that restores to a moment less than this ago fails on AWS.
DEFAULT_PITR_LAG = timedelta(minutes=5)


@dataclass
class AccountContext:
    """What the extensions need to know about one served account."""

    account: str
    region: str
    clock: Clock
    server_url: Callable[[], str | None]
    pitr_lag: timedelta = DEFAULT_PITR_LAG
    # Changes numbered in the order they happen: identifiers derived from it (Lambda RevisionIds) are the
    # same for the same sequence of calls, so two rehearsals of one scenario compare.
    _sequence: itertools.count[int] = field(default_factory=itertools.count, repr=False)
    _sequence_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def next_sequence(self) -> int:
        """The next number of this account's change sequence."""
        with self._sequence_lock:
            return int(next(self._sequence))


# (moto class, attribute, factory of the replacement from the original): one row of an extension's
# ``PATCHES`` table, which tests/fidelity/test_moto_contract.py checks against moto's signatures.
Factory = Callable[[Any], Any]  # the original attribute -> its replacement
Patch = tuple[type, str, Factory]
Owner = type | ModuleType  # a moto class, or a moto module whose function binding is replaced (one_clock)

_lock = threading.RLock()
_request = threading.local()  # the account the current thread acts for (a request to the server, an invocation)
_contexts: dict[str, AccountContext] = {}
_originals: dict[tuple[Owner, str], Any] = {}


def register(ctx: AccountContext) -> None:
    """Make the extensions act for ``ctx.account`` (replaces an earlier registration of it)."""
    with _lock:
        _contexts[ctx.account] = ctx


def unregister(ctx: AccountContext) -> None:
    """Stop acting for ``ctx.account`` if ``ctx`` is still the registered context."""
    with _lock:
        if _contexts.get(ctx.account) is ctx:
            del _contexts[ctx.account]


def context(account: str | None) -> AccountContext | None:
    """The registered context of ``account``, or None when moto's own behaviour applies."""
    return _contexts.get(account or "")


@contextmanager
def acting_for(account: str | None) -> Iterator[None]:
    """Mark this thread as acting for ``account`` (the server wraps each request in it; one_clock reads it)."""
    previous = getattr(_request, "account", None)
    _request.account = account
    try:
        yield
    finally:
        _request.account = previous


def current_account() -> str | None:
    """The account this thread acts for, if any."""
    return getattr(_request, "account", None)


def patch(owner: Owner, name: str, make: Factory) -> None:
    """Replace ``owner.name`` by ``make(original)`` once per process (later calls do nothing).

    Raises AttributeError naming the class and attribute when moto no longer defines it there (a
    moto upgrade moved or renamed it): never a bare ``KeyError``.
    """
    with _lock:
        key = (owner, name)
        if key in _originals:
            return
        if name not in owner.__dict__:
            where = "inherits it instead of defining it" if hasattr(owner, name) else "has no attribute"
            raise AttributeError(f"{owner.__name__} {where} '{name}'")
        original = owner.__dict__[name]
        _originals[key] = original
        setattr(owner, name, make(original))


def patch_all(patches: Iterable[Patch]) -> None:
    """Apply an extension's ``PATCHES`` table, in order."""
    for owner, name, make in patches:
        patch(owner, name, make)


def patched() -> list[tuple[Owner, str]]:
    """Every (class, attribute) patched so far, in the order they were patched."""
    with _lock:
        return list(_originals)


def unpatch(owner: Owner, name: str) -> None:
    """Put moto's own ``owner.name`` back (undoing a partial install; no-op when not patched)."""
    with _lock:
        key = (owner, name)
        if key in _originals:
            setattr(owner, name, _originals.pop(key))


def original(owner: Owner, name: str) -> Any:
    """The unpatched ``owner.name`` (for tests and for delegating)."""
    return _originals.get((owner, name), owner.__dict__.get(name))
