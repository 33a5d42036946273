"""The runbook documents themselves, proven: lint their shell blocks and rehearse a section against a rehearsal.

- ``document``: markdown into sections and fenced shell blocks, with line numbers;
- ``shell``: a small shell lexer (commands, words, variables, assignments, ``$(...)``, continuations);
- ``awsmodel``: every ``aws <service> <operation>`` checked against botocore's model;
- ``lint``: one finding per line (portability, aws model, unbound variables, placeholders, inventory names,
  the seed defects, shellcheck); ``rules`` (portability, defects) and ``resources`` (inventory names) are its
  rules, ``bindings`` the names the inventory binds;
- ``rehearse``: a section's blocks run in bash against a target's ``--recovery-cmd`` environment;
- ``faults``: the game-day faults a rehearsal may inject first, by name.

The library never imports ``harness.checks``: a rehearsal takes a ``verify`` callable, which the front ends
(``harness runbook rehearse``, the ``runbook_section`` fixture) build from the checklist runner.
"""
