"""Allure results that read like the report: readable parameters, the error once.

allure-pytest shows a parameter as its ``repr`` (``'bbws/sit'`` in quotes, ``Resource(kind='lambda-alias', ...)``)
and records a failure three times: the message (``Failed: ...``), the trace (for a ``pytrace=False`` failure the
same text again) and the failed step's own details. This plugin tidies the running test's Allure result in
``pytest_runtest_teardown`` (a plain hook: it runs inside allure-pytest's teardown wrapper, before the wrapper
derives the history id from the parameters, so the id is as stable as the readable values):

- a parameter shows the value itself: a string without quotes, a resource as ``<kind> <parent>:<name>``;
- the message is the error without pytest's ``Failed:`` prefix; the trace only when it says something the
  message does not (a harness error's own traceback, handed over in :data:`TRACEBACK`);
- a step that failed with the test's own error keeps its status and drops the repeated text;
- a step holding a failed step is failed (a drill's verification phase whose rows stayed red).
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from typing import Any, Iterator

import allure
import pytest

from harness.drills.model import DETECTION

TRACEBACK = pytest.StashKey[str]()  # a broken row's own traceback: the Allure trace instead of an attachment
PREFIXES = ("Failed: ", "AssertionError: ")
BAD = ("failed", "broken")
RED_EXPECTED = (DETECTION,)  # phases whose rows are meant to go red


class _Red(AssertionError):
    """Raised inside a row's step so Allure marks it failed (an AssertionError is "failed")."""


class _Broken(Exception):
    """Raised inside a row's step so Allure marks it broken."""


@contextmanager
def status_step(title: str, row: Any, phase: str = "") -> Iterator[None]:
    """An Allure step whose status is the row's verdict (fail: failed, error: broken, else passed), except in a
    phase whose rows are meant to go red (a drill's detection: red there is the finding it wants)."""
    verdict = str(getattr(getattr(row, "verdict", None), "value", ""))
    raised = None if phase in RED_EXPECTED else {"fail": _Red, "error": _Broken}.get(verdict)
    try:
        with allure.step(title):
            yield
            if raised is not None:
                raise raised(title)
    except (_Red, _Broken):
        pass


def readable(value: Any) -> str:
    """A parameter value as a person reads it: strings bare, a resource by its name, anything else its repr."""
    if isinstance(value, str):
        return str.__str__(value)
    kind, name = getattr(value, "kind", None), getattr(value, "name", None)
    if isinstance(kind, str) and isinstance(name, str):
        parent = getattr(value, "parent", "")
        return f"{kind} {parent}:{name}" if parent else f"{kind} {name}"
    return repr(value)


def _unquoted(shown: str) -> str:
    """allure's ``represent`` of a string is its repr: the string again."""
    try:
        value = ast.literal_eval(shown)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return shown
    return value if isinstance(value, str) else shown


def _bare(message: str) -> str:
    """The error without the exception-class prefix pytest and allure put before it."""
    text = message.strip()
    for prefix in PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    head, sep, rest = text.partition(": ")
    if sep and "." in head and " " not in head and head.split(".")[-1][:1].isupper():
        return rest  # harness.pytest_plugin.checklist.RowFailed: <message>
    return text


def _tidy_steps(steps: list[Any], error: str) -> None:
    """Steps that failed with the test's error keep their status, not a copy of the text."""
    for step in steps or []:
        details = getattr(step, "statusDetails", None)
        if details is not None and details.message and _bare(details.message) in error:
            step.statusDetails = None
        _tidy_steps(getattr(step, "steps", []), error)


def _worst_up(steps: list[Any]) -> str | None:
    """A passed step holding a failed (or broken) step is failed (broken) too: a drill's verification phase whose
    rows stayed red reads failed at a glance. Returns the worst status among ``steps``."""
    worst = None
    for step in steps or []:
        inner = _worst_up(getattr(step, "steps", []))
        if inner in BAD and getattr(step, "status", None) == "passed":
            step.status = inner
        status = getattr(step, "status", None)
        if status in BAD and worst != "failed":
            worst = status
    return worst


def tidy(result: Any, params: dict[str, Any], traceback: str | None = None) -> None:
    """Readable parameters, steps as red as what they hold, and a single error on one Allure test result (in
    place)."""
    _worst_up(getattr(result, "steps", []))
    for parameter in getattr(result, "parameters", []) or []:
        if parameter.name in params:
            parameter.value = readable(params[parameter.name])
        elif isinstance(parameter.value, str):
            parameter.value = _unquoted(parameter.value)
    details = getattr(result, "statusDetails", None)
    if details is None or not details.message:
        return
    details.message = _bare(details.message)
    trace = (details.trace or "").strip()
    if traceback:
        details.trace = traceback
    elif not trace or _bare(trace) in details.message or trace.endswith(details.message):
        details.trace = None
    _tidy_steps(getattr(result, "steps", []), details.message)


def _current(config: pytest.Config) -> Any:
    """The Allure result of the running test (allure-pytest's listener), or None without --alluredir."""
    listener = config.pluginmanager.get_plugin("allure_listener")
    logger = getattr(listener, "allure_logger", None)
    return logger.get_test(None) if logger is not None else None


def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Tidy the test's Allure result before allure-pytest derives its history id and writes it."""
    result = _current(item.config)
    if result is None:
        return
    params = dict(getattr(getattr(item, "callspec", None), "params", {}))
    tidy(result, params, item.stash.get(TRACEBACK, None))
