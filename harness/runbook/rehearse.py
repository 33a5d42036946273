"""Rehearse a runbook section: its shell blocks, in order, in bash, against a target (the drills' ``--recovery-cmd``
environment: endpoint, dummy credentials, Region), then the checklist the section restores.

- Before anything runs, every variable and ``<placeholder>`` a step uses must be bound: by the inventory
  (``ENV``, ``REGION``, ``ACCOUNT_ID``..., harness/runbook/bindings.py), by ``--var NAME=VALUE``, or by an earlier
  step of the section. Otherwise the rehearsal is REFUSED, naming each step, line and name.
- Each block is one step, run as an operator runs it (pasted whole: a failing command does not stop the block),
  with ``pipefail`` and an ERR trap that records the line of every failing command. Variables a step sets carry
  over to the next step (the operator's terminal). A failed step stops the section: the rest are not run.
- Optionally a game-day fault first (harness/runbook/faults.py) and, after, ``verify(target, fault)``: the
  checklist rows on a fresh context (the front ends build it; this library never imports harness.checks).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from harness.drills.external import DEFAULT_TIMEOUT_S, command_environment
from harness.faults.base import Fault
from harness.inventory.model import Environment
from harness.outcome import Outcome
from harness.runbook.bindings import SHELL_VARIABLES, TARGET_VARIABLES, inventory_bindings
from harness.runbook.document import Block, Runbook, Section
from harness.runbook.shell import lex
from harness.targets.base import TargetLike

# A step's recorded output: its first lines (the first error is the telling one) and its last (where it stopped).
OUTPUT_HEAD, OUTPUT_TAIL, OUTPUT_LINE_CHARS = 12, 40, 300
# verify(target, the fault or None, the inventory resources the section names) -> checklist rows (dicts)
Verify = Callable[[TargetLike, "Fault | None", Sequence[str]], list[dict[str, Any]]]
Inject = Callable[[TargetLike], Fault]

# Sourced by each step's first line (not BASH_ENV: every bash script the step starts, such as a pyenv shim, would
# source it too): the previous step's variables, pipefail, the ERR trap, and on exit
# the variables saved for the next step (never the shell's own, never a secret).
PRELUDE = r"""
set -o pipefail
[ -f "$HARNESS_RB_STATE" ] && . "$HARNESS_RB_STATE"
trap 'echo "$LINENO $?" >> "$HARNESS_RB_ERRORS"' ERR
__rb_save() {
  local __v
  trap - ERR
  for __v in $(compgen -v); do
    case "$__v" in
      __rb_*|BASH*|FUNCNAME|PIPESTATUS|GROUPS|DIRSTACK|_|COMP*|HIST*|LINENO|RANDOM|SRANDOM|SECONDS) continue ;;
      EPOCH*|PPID|UID|EUID|SHELLOPTS|OPTIND|OPTERR|IFS|PS1|PS2|PS3|PS4|SHLVL|PWD|OLDPWD|HARNESS_RB_*) continue ;;
      AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN) continue ;;
    esac
    declare -p "$__v" 2>/dev/null
  done > "$HARNESS_RB_STATE.new"
  declare -f >> "$HARNESS_RB_STATE.new"
  mv "$HARNESS_RB_STATE.new" "$HARNESS_RB_STATE"
}
trap __rb_save EXIT
"""


@dataclass
class Step:
    """One block as run: where it is, what ran, its exit status, the lines of failing commands, its output."""

    cite: str
    line: int
    end_line: int
    command: str
    status: str = "not run"  # ok | failed | not run
    exit_code: int | None = None
    failed_lines: list[int] = field(default_factory=list)
    output: str = ""
    seconds: float = 0.0

    def where(self) -> str:
        """``000 §4.4 lines 274-352``."""
        return f"{self.cite} lines {self.line}-{self.end_line}"


@dataclass
class Rehearsal:
    """A section's rehearsal: the steps, what refused it, the fault, the checklist rows, the outcome."""

    runbook: str
    section: str
    env: str
    steps: list[Step]
    refusals: list[str] = field(default_factory=list)
    fault: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    outcome: Outcome = Outcome.PASS
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every step ran green and no checklist row stayed red."""
        return self.outcome == Outcome.PASS

    @property
    def failed_step(self) -> Step | None:
        """The step that failed (the section stops there), or None."""
        return next((s for s in self.steps if s.status == "failed"), None)

    @property
    def red_rows(self) -> list[dict[str, Any]]:
        """The checklist rows that stayed red (FAIL or ERROR)."""
        return [r for r in self.rows if str(r.get("verdict", "")).lower() in ("fail", "error")]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = asdict(self)
        d["outcome"] = str(self.outcome)
        return d

    def render(self) -> list[str]:
        """The report: one line per step, the fault, the red rows, the verdict."""
        out = [f"REHEARSAL of {self.section} ({self.runbook}) on {self.env}"]
        out += [f"REFUSED: {r}" for r in self.refusals]
        if self.fault:
            out.append(f"fault: {self.fault.get('name')} on {self.fault.get('resource')}")
        for i, s in enumerate(self.steps, 1):
            code = "-" if s.exit_code is None else str(s.exit_code)
            failed = f", failing command at line {', '.join(map(str, s.failed_lines))}" if s.failed_lines else ""
            out.append(f"  step {i} {s.where()}: {s.status} (exit {code}{failed})")
            if s.status == "failed" and s.output:
                out += [f"    | {line}" for line in s.output.splitlines()[-8:]]
        for r in self.rows:
            out.append(
                f"  [{str(r.get('verdict', '')).upper()}] {r.get('slug')} {r.get('resource')}: "
                f"expected {r.get('expected')}, observed {r.get('observed')} ({r.get('ref')})"
            )
        stopped = self.failed_step
        verdict = f"{self.outcome}: {self.section}"
        if stopped:
            verdict += f" — step at {stopped.where()} failed"
        if self.red_rows:
            verdict += f" — {len(self.red_rows)} checklist row(s) stayed red after {self.section}: " + ", ".join(
                f"{r.get('slug')} {r.get('resource')}" for r in self.red_rows
            )
        out.append(verdict)
        return out


def _placeholders(text: str, variables: Mapping[str, str]) -> str:
    """``<name>`` replaced by ``--var name=VALUE`` (quoted for the shell)."""
    return re.sub(
        r"<([A-Za-z][\w.-]*)>",
        lambda m: shlex.quote(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
        text,
    )


def unbound(blocks: Sequence[Block], bound: Mapping[str, str]) -> list[str]:
    """Every name a step uses that nothing binds before it: ``000 §4.2.4 line 208: $FUNCTION_NAME``."""
    out: list[str] = []
    scripts = [(b, lex(b.text, b.line)) for b in blocks]
    assigns = [a for _, s in scripts for a in s.assigns]
    functions = {f for _, s in scripts for f in s.functions}
    for block, script in scripts:
        seen: set[str] = set()
        for ref in script.refs:
            name = ref.name
            if ref.guarded or name in seen or name in bound or name in functions:
                continue
            if name.isdigit():
                if not script.functions:  # inside a function $1 is the function's argument
                    seen.add(name)
                    out.append(f"{block.section.cite} line {ref.line}: ${name} is not bound (--arg VALUE)")
                continue
            if name in SHELL_VARIABLES or name in TARGET_VARIABLES:
                continue
            if any(a.name == name and a.line <= ref.line for a in assigns):
                continue
            seen.add(name)
            out.append(f"{block.section.cite} line {ref.line}: ${name} is not bound (--var {name}=VALUE)")
        for ph in script.placeholders:
            if ph.name not in bound and ph.command not in ("echo", "printf"):
                out.append(f"{block.section.cite} line {ph.line}: <{ph.name}> is not bound (--var {ph.name}=VALUE)")
    return out


def trim(output: str) -> str:
    """The first and last lines of ``output`` (each line cut to a few hundred characters)."""
    lines = [line[:OUTPUT_LINE_CHARS] for line in output.strip().splitlines()]
    if len(lines) > OUTPUT_HEAD + OUTPUT_TAIL:
        cut = len(lines) - OUTPUT_HEAD - OUTPUT_TAIL
        lines = [*lines[:OUTPUT_HEAD], f"... ({cut} lines left out)", *lines[-OUTPUT_TAIL:]]
    return "\n".join(lines)


def _run_step(
    step: Step, block: Block, env: Mapping[str, str], args: Sequence[str], work: Path, timeout_s: float
) -> None:
    script = work / f"step-{block.line}.sh"
    # line 1 sources the prelude, so the block's line n is the script's line n + 1
    script.write_text(f". {shlex.quote(str(work / 'prelude.sh'))}\n{block.text}\n", encoding="utf-8")
    errors = work / "errors"
    errors.write_text("")
    began = time.perf_counter()
    try:
        proc = subprocess.run(
            ["bash", str(script), *args],
            env={**env, "HARNESS_RB_ERRORS": str(errors)},
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
        step.exit_code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        step.exit_code, output = None, out + f"\n(timed out after {timeout_s:.0f} s)"
    step.seconds = time.perf_counter() - began
    failing = [int(x.split()[0]) for x in errors.read_text().splitlines() if x.split() and x.split()[0].isdigit()]
    step.failed_lines = sorted({block.line + n - 2 for n in failing if n >= 2})
    step.output = trim(output)
    step.status = "ok" if step.exit_code == 0 and not step.failed_lines else "failed"


def mentioned(env: Environment, blocks: Sequence[Block], bound: Mapping[str, str]) -> list[str]:
    """The inventory resources (functions, tables, buckets, ECS services, state keys) the blocks name, once the
    bound variables are expanded: the checklist rows a section is about."""
    text = "\n".join(b.text for b in blocks)
    for name, value in sorted(bound.items(), key=lambda kv: -len(kv[0])):
        text = text.replace("${" + name + "}", value).replace("$" + name, value)
    names = [f.name for f in env.functions] + [t.name for t in env.tables] + [b.name for b in env.buckets]
    names += list(env.ecs.services) if env.ecs else []
    names += list(env.terraform.state_keys) if env.terraform else []
    return [n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text)]


def _blocks(runbook: Runbook, section: Section) -> list[Block]:
    return [b for s in runbook.subtree(section) for b in s.blocks]


def preflight(
    runbook: Runbook,
    section: Section,
    env: Environment,
    variables: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> tuple[dict[str, str], list[Block], list[str]]:
    """(the bindings, the section's blocks with placeholders filled in, the refusals): decided before any target
    starts or any step runs."""
    bound = {**inventory_bindings(env), **(variables or {})}
    blocks = [Block(_placeholders(b.text, bound), b.line, b.lang, b.section) for b in _blocks(runbook, section)]
    refusals = [] if blocks else [f"{section.cite} has no shell blocks"]
    refusals += unbound(blocks, {**bound, **{str(i + 1): a for i, a in enumerate(args)}})
    return bound, blocks, refusals


def rehearse(
    runbook: Runbook,
    section: str | Section,
    target: TargetLike,
    *,
    variables: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    inject: Inject | None = None,
    verify: Verify | None = None,
    revert: bool = True,
    timeout_s: float | None = None,
) -> Rehearsal:
    """Run ``section`` (and its sub-sections) of ``runbook`` against ``target``; see the module docstring."""
    sec = section if isinstance(section, Section) else runbook.section(section)
    bound, blocks, refusals = preflight(runbook, sec, target.env, variables, args)
    steps = [Step(b.section.cite, b.line, b.end_line, b.text) for b in blocks]
    result = Rehearsal(str(runbook.path), sec.cite, target.env.name, steps, variables=dict(variables or {}))
    result.refusals = refusals
    if result.refusals:
        result.outcome = Outcome.REFUSED
        return result
    fault = inject(target) if inject else None
    try:
        result.fault = fault.to_dict() if fault else None
        _run_all(result, blocks, target, bound, args, timeout_s or DEFAULT_TIMEOUT_S)
        if verify is not None:
            result.rows = verify(target, fault, mentioned(target.env, blocks, bound))
    finally:
        if fault is not None and revert:
            fault.revert()
    bad = result.failed_step is not None or bool(result.red_rows)
    result.outcome = Outcome.FAIL if bad else Outcome.PASS
    return result


def _run_all(
    result: Rehearsal,
    blocks: Sequence[Block],
    target: TargetLike,
    bound: Mapping[str, str],
    args: Sequence[str],
    timeout_s: float,
) -> None:
    child_env, _ = command_environment(target)
    with tempfile.TemporaryDirectory(prefix="harness-rehearse-") as tmp:
        work = Path(tmp)
        prelude = work / "prelude.sh"
        prelude.write_text(PRELUDE, encoding="utf-8")
        env = {
            **child_env,
            **{k: v for k, v in bound.items() if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)},
            "BASH_ENV": "",
            "HARNESS_RB_STATE": str(work / "state.sh"),
        }
        for step, block in zip(result.steps, blocks, strict=True):
            _run_step(step, block, env, args, work, timeout_s)
            if step.status == "failed":
                break
