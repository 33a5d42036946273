"""Errors a user can cause and fix: the plugin and CLI print them as one line, no traceback."""


class HarnessError(Exception):
    """Base class for errors reported to the user as a single clear line."""


class InventoryError(HarnessError):
    """The inventory file is missing, malformed or names something inconsistent."""


class AccountMismatch(HarnessError):
    """The caller identity is not the environment's account: nothing else may be called."""


class TargetError(HarnessError):
    """A target cannot be set up (unknown name, emulator failed to start, ...)."""


class RefusedError(HarnessError):
    """A mutating action was refused by a safety rule; nothing was changed."""
