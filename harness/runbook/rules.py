"""Lint rules on commands: flags that work on one platform only, and the runbook defects the seeds taught.

Portability: a runbook is run from a Mac laptop as often as from a Linux bastion or CI runner, so a flag that
exists on one side only fails on the other at the worst moment (seed defect 1: 000 §7.1's ``date -u -v-5M``
fails on GNU/Linux, "invalid option -- 'v'", and the error-rate queries never run there).

Defects (shared/seeds/README.md), each a command that runs fine and does the wrong thing:

- 3: ``aws lambda invoke`` of the unqualified function runs ``$LATEST``, not the version behind the alias
  (001 §3.3; 000 §4.2.5 invokes ``fn:latest-{env}`` correctly);
- 4: the "previous" version taken as ``[-2]`` of the published versions (000 §4.4), not the version before the
  one the alias serves: after an earlier rollback or a newer undeployed build it picks the wrong one;
- 6: ``cloudformation rollback-stack`` acts only on CREATE_FAILED/UPDATE_FAILED stacks (004);
- 7: the newest SUCCEED Amplify job is usually the bad release itself (004);
- 2: a Terraform state object overwritten without its ``-md5`` Digest item in the lock table (000 §5.2.2).
"""

from __future__ import annotations

import re
from typing import Iterator

from harness.runbook.document import Block
from harness.runbook.shell import Command, Script

DATE_UNITS = {"y": "years", "m": "months", "w": "weeks", "d": "days", "H": "hours", "M": "minutes", "S": "seconds"}
DATE_V_RE = re.compile(r"^-[a-zA-Z]*v([+-]?)(\d+)([ymwdHMS])$")
GNU_ONLY = {  # command -> {flag: what to use instead}
    "grep": {"-P": "BSD grep has no -P: use grep -E"},
    "sed": {"-r": "BSD sed: sed -E (both accept -E)"},
    "xargs": {"--no-run-if-empty": "BSD xargs: leave it out (it never runs on empty input)"},
    "base64": {"-w": "BSD base64: -b"},
    "stat": {"-c": "BSD stat: stat -f"},
}
MACOS_MISSING = {
    "timeout": "not on macOS by default (GNU coreutils: gtimeout)",
    "tac": "not on macOS (tail -r)",
    "md5sum": "not on macOS (md5 -q)",
    "sha256sum": "not on macOS (shasum -a 256)",
}
Hit = tuple[str, int, str]  # (code, line, message)


def _date(cmd: Command) -> Iterator[Hit]:
    words = cmd.words[1:]
    for i, w in enumerate(words):
        m = DATE_V_RE.match(w.value)
        if m:
            sign = "-" if m.group(1) == "-" else "+"
            gnu = f"date -d '{sign}{m.group(2)} {DATE_UNITS[m.group(3)]}'"
            yield "portability", w.line, f"date {w.value} is BSD-only (GNU date: {gnu})"
        elif re.fullmatch(r"-[a-zA-Z]*j[a-zA-Z]*", w.value):
            yield "portability", w.line, f"date {w.value} is BSD-only (GNU date parses with -d)"
        elif w.value in ("-d", "--date") or w.value.startswith("--date="):
            arg = words[i + 1].value if i + 1 < len(words) and w.value in ("-d", "--date") else w.value[7:]
            yield "portability", w.line, f"date -d '{arg}' is GNU-only (BSD/macOS date: date -v, e.g. date -v-5M)"


def _sed(cmd: Command) -> Iterator[Hit]:
    words = cmd.words[1:]
    for i, w in enumerate(words):
        if w.value != "-i":
            continue
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is not None and nxt.value == "" and nxt.text in ("''", '""'):
            yield "portability", w.line, "sed -i '' is BSD-only (GNU sed reads '' as the script: use sed -i.bak)"
        else:
            yield "portability", w.line, "sed -i without a suffix is GNU-only (BSD sed needs one: use sed -i.bak)"


def portability(cmd: Command) -> Iterator[Hit]:
    """Flags and commands that exist on BSD/macOS or GNU/Linux only."""
    name = cmd.name
    if name == "date":
        yield from _date(cmd)
    elif name == "sed":
        yield from _sed(cmd)
    elif name in GNU_ONLY:
        for w in cmd.words[1:]:
            flag = w.value.split("=", 1)[0]
            if flag in GNU_ONLY[name]:
                yield "portability", w.line, f"{name} {flag} is GNU-only ({GNU_ONLY[name][flag]})"
    elif name in MACOS_MISSING:
        yield "portability", cmd.line, f"{name} is GNU-only: {MACOS_MISSING[name]}"


def _option(cmd: Command, name: str) -> str | None:
    argv = cmd.argv
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def _aws(cmd: Command, service: str, operation: str) -> bool:
    positional = [a for a in cmd.argv[1:] if not a.startswith("-")]
    return cmd.name == "aws" and positional[:2] == [service, operation]


def _unqualified_invoke(cmd: Command) -> Iterator[tuple[int, str]]:
    if not _aws(cmd, "lambda", "invoke") or _option(cmd, "--qualifier"):
        return
    fn = _option(cmd, "--function-name") or ""
    if fn and ":" not in fn.split("function:")[-1]:
        yield (
            cmd.line,
            f"aws lambda invoke --function-name {fn} runs $LATEST, not the version behind the alias that serves "
            "traffic (invoke NAME:ALIAS or pass --qualifier; seed defect 3)",
        )


def defects(block: Block, script: Script) -> list[tuple[int, str]]:
    """(line, message) for each known runbook defect in ``script``."""
    out: list[tuple[int, str]] = []
    by_pipeline: dict[int, list[Command]] = {}
    for cmd in script.commands:
        by_pipeline.setdefault(cmd.pipeline, []).append(cmd)
        out += list(_unqualified_invoke(cmd))
        if _aws(cmd, "cloudformation", "rollback-stack"):
            out.append(
                (
                    cmd.line,
                    "aws cloudformation rollback-stack acts only on stacks in CREATE_FAILED or UPDATE_FAILED: after a "
                    "bad update that completed (UPDATE_COMPLETE) it is refused; roll back with update-stack and the "
                    "previous template (seed defect 6)",
                )
            )
        query = _option(cmd, "--query") or ""
        if _aws(cmd, "amplify", "list-jobs") and "SUCCEED" in query and "[0]" in query:
            out.append(
                (
                    cmd.line,
                    "the newest SUCCEED Amplify job is usually the bad release itself (it built fine): pick the last "
                    "good job before the one now serving (seed defect 7)",
                )
            )
    for cmds in by_pipeline.values():
        if any(_aws(c, "lambda", "list-versions-by-function") for c in cmds):
            for c in cmds:
                hit = next((w for w in c.words if "[-2]" in w.value), None)
                if hit is not None:
                    out.append(
                        (
                            hit.line,
                            "the previous version is taken as [-2] of the published versions, not the version before "
                            "the one the alias serves: after an earlier rollback, or with a newer undeployed build, it "
                            "picks the wrong one (seed defect 4)",
                        )
                    )
    out += _state_digest(block, script)
    return out


def _state_digest(block: Block, script: Script) -> list[tuple[int, str]]:
    """A state object copied over without touching its Digest item (000 §5.2.2, seed defect 2)."""
    writes = [
        c
        for c in script.commands
        if c.name == "aws"
        and (
            (len(c.argv) > 2 and c.argv[1] == "s3" and c.argv[2] == "cp" and c.argv[-1].endswith(".tfstate"))
            or (_aws(c, "s3api", "put-object") and (_option(c, "--key") or "").endswith(".tfstate"))
            or (_aws(c, "s3api", "copy-object") and (_option(c, "--key") or "").endswith(".tfstate"))
        )
    ]
    digest = any(
        c.name == "aws" and len(c.argv) > 1 and c.argv[1] == "dynamodb" and "-md5" in " ".join(c.argv)
        for c in script.commands
    )
    if not writes or digest:
        return []
    return [
        (
            writes[0].line,
            "overwrites a Terraform state object without updating its Digest item (<bucket>/<key>-md5) in the lock "
            "table: every later plan fails with a checksum mismatch (seed defect 2)",
        )
    ]
