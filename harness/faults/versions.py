"""Bad versions of one function: what the alias serves, a version published from ``$LATEST`` with a bad change,
and the tidy-up that puts ``$LATEST`` back and deletes what the fault published (000 §4.2.4, §6.6).

The building blocks of harness/faults/deployment.py (which re-exports them) and harness/faults/spikes.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from harness import aws
from harness.actions import lambda_versions as lv
from harness.targets.base import TargetLike

FAULT_VARIABLE = "HARNESS_FAULT"  # the rehearsal app's switch (sample_app/handler.py)
MODES = {"error": "answers statusCode 500", "raise": "raises an unhandled exception"}  # plus slow=S: sleeps S seconds


@dataclass
class Served:
    """A function as the fault found it: the alias's version and routing, and ``$LATEST``."""

    function: str
    version: str
    label: str
    routing: dict[str, float]
    latest_variables: dict[str, str]
    latest_code_sha: str
    served_variables: dict[str, str]
    published: list[str] = field(default_factory=list)  # versions the fault published
    record_id: str | None = None


def describe_mode(mode: str) -> str:
    """What a bad version of this mode does (for reports)."""
    if mode.startswith("slow="):
        return f"sleeps {mode.split('=', 1)[1]} s per request"
    if mode not in MODES:
        raise ValueError(f"unknown fault mode {mode!r}: error, raise or slow=S")
    return MODES[mode]


def read_served(target: TargetLike, fn: str) -> Served:
    """The alias, the version it serves and ``$LATEST`` of ``fn`` (reads only)."""
    state = lv.served_state(target.client("lambda"), fn, target.env.alias)
    return Served(
        fn,
        state.version,
        state.served.get("Description") or "",
        state.weights,
        lv.env_variables(state.latest),
        state.latest.get("CodeSha256") or "",
        lv.env_variables(state.served),
    )


def _waiter_config(target: TargetLike) -> Mapping[str, Any] | None:
    """The target's boto3 WaiterConfig (``Target.waiter_config``; a test double without one gets AWS's)."""
    config: Mapping[str, Any] | None = getattr(target, "waiter_config", None)
    return config


def _set_latest(target: TargetLike, fn: str, variables: dict[str, str]) -> None:
    lam = target.client("lambda")
    lam.update_function_configuration(FunctionName=fn, Environment={"Variables": variables})
    aws.wait(lam, "function_updated_v2", _waiter_config(target), FunctionName=fn)


def publish_bad(target: TargetLike, s: Served, mode: str, package: bytes | None, fault_id: str) -> str:
    """``$LATEST`` = the served version's variables plus the fault (or the given package), published; returns the
    version."""
    lam = target.client("lambda")
    if package is not None:
        lam.update_function_code(FunctionName=s.function, ZipFile=package)
        aws.wait(lam, "function_updated_v2", _waiter_config(target), FunctionName=s.function)
        _set_latest(target, s.function, dict(s.served_variables))
    else:
        _set_latest(target, s.function, {**s.served_variables, FAULT_VARIABLE: mode})
    label = f"{s.label or 'v' + s.version}-gameday-{fault_id[-6:]}"
    version = lam.publish_version(FunctionName=s.function, Description=label)["Version"]
    s.published.append(str(version))
    return str(version)


def tidy(target: TargetLike, s: Served) -> list[str]:
    """``$LATEST`` back to its variables; the fault's versions deleted (with the recovery's checkpoints of them)."""
    lam = target.client("lambda")
    done: list[str] = []
    latest = lam.get_function_configuration(FunctionName=s.function)
    if dict((latest.get("Environment") or {}).get("Variables") or {}) != s.latest_variables:
        _set_latest(target, s.function, dict(s.latest_variables))
        done.append(f"{s.function}: $LATEST variables restored")
    if (latest.get("CodeSha256") or "") != s.latest_code_sha:
        done.append(
            f"{s.function}: $LATEST code is {latest.get('CodeSha256')}, was {s.latest_code_sha} (a package fault: "
            "redeploy it)"
        )
    aliases = list(aws.paginate(lam, "list_aliases", "Aliases", FunctionName=s.function))
    # A recovery checkpoints the version it rolls back from (000 §4.2.4, 001 §6.3.2 step 4): the fault's own bad
    # version. Once the game day is over that checkpoint names nothing worth keeping, and a bad version left
    # published would be "the version before" the next deployment's, the target a later "previous" rollback picks.
    ours = (target.env.checkpoint_alias_prefix, target.env.incident_alias_prefix)
    for version in s.published:
        on_it = [a["Name"] for a in aliases if a["FunctionVersion"] == version]
        kept = [n for n in on_it if not n.startswith(ours)]
        if kept:
            done.append(f"{s.function}: version {version} kept (alias {', '.join(kept)} names it)")
            continue
        for name in on_it:
            lam.delete_alias(FunctionName=s.function, Name=name)
            done.append(f"{s.function}: checkpoint alias {name} on the fault's version {version} deleted")
        lam.delete_function(FunctionName=s.function, Qualifier=version)
        done.append(f"{s.function}: version {version} deleted")
    return done


def needs_for(package: bytes | None) -> tuple[str, ...]:
    # The HARNESS_FAULT switch is the rehearsal app's; real code needs a real bad package.
    return () if package is not None else ("emulator-faults",)
