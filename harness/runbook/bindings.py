"""The shell variables a rehearsal binds from the inventory, and the names a runbook may use unset.

A runbook's blocks lean on variables the operator is expected to have: the environment (``ENV``), the Region,
the account, the Amplify app. The rehearsal binds these from the inventory's environment (the same values the
checks read), ``--var NAME=VALUE`` adds or overrides; anything else a step uses must be set by an earlier
step of the section, or the step is refused before anything runs.
"""

from __future__ import annotations

from harness.inventory.model import Environment

# Set by the shell or the login session: never "unbound" in a runbook.
SHELL_VARIABLES = frozenset(
    {
        "HOME",
        "PATH",
        "USER",
        "LOGNAME",
        "PWD",
        "OLDPWD",
        "SHELL",
        "TMPDIR",
        "HOSTNAME",
        "RANDOM",
        "LINENO",
        "SECONDS",
        "UID",
        "EUID",
        "PPID",
        "IFS",
        "REPLY",
        "OPTARG",
        "OPTIND",
        "BASH_SOURCE",
        "BASH_VERSION",
        "FUNCNAME",
        "PIPESTATUS",
        "GITHUB_SHA",
        "GITHUB_REF",
        "GITHUB_RUN_ID",
    }
)
# What the rehearsal environment sets for every command (harness/drills/external.py command_environment).
TARGET_VARIABLES = frozenset(
    {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCOUNT_ID",
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "HARNESS_ENV",
        "HARNESS_INVENTORY",
        "API_BASE_URL",
    }
)


def inventory_bindings(env: Environment) -> dict[str, str]:
    """``ENV``, ``ENVIRONMENT``, ``REGION``, ``ACCOUNT_ID``, ``ALIAS`` and the single-valued names of ``env``."""
    out = {
        "ENV": env.name,
        "ENVIRONMENT": env.name,
        "REGION": env.region,
        "AWS_REGION": env.region,
        "AWS_DEFAULT_REGION": env.region,
        "ACCOUNT_ID": env.account,
        "AWS_ACCOUNT_ID": env.account,
        "ALIAS": env.alias,
    }
    if env.amplify:
        out.update(AMPLIFY_APP_ID=env.amplify.app_id, BRANCH_NAME=env.amplify.branch, DOMAIN_NAME=env.amplify.domain)
    if env.terraform:
        out["STATE_BUCKET"] = env.terraform.state_bucket
        if env.terraform.lock_table:
            out["LOCK_TABLE"] = env.terraform.lock_table
    if env.ecs:
        out["CLUSTER"] = env.ecs.cluster
    if env.api:
        out["API_URL"] = env.api.base_url
    if len(env.cfn_stacks) == 1:
        out["STACK_NAME"] = env.cfn_stacks[0]
    return out


BOUND_BY_INVENTORY = frozenset(
    {
        "ENV",
        "ENVIRONMENT",
        "REGION",
        "ACCOUNT_ID",
        "ALIAS",
        "AMPLIFY_APP_ID",
        "BRANCH_NAME",
        "DOMAIN_NAME",
        "STATE_BUCKET",
        "LOCK_TABLE",
        "CLUSTER",
        "API_URL",
        "STACK_NAME",
    }
)


def always_bound(name: str) -> bool:
    """True for names a step may use without setting them (the shell's, the target's, the inventory's)."""
    return name in SHELL_VARIABLES or name in TARGET_VARIABLES or name in BOUND_BY_INVENTORY
