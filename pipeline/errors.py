"""The one kind of error a user is meant to read: what went wrong, where, in one line.

The CLI prints a `UserError` as `error: <where>: <problem>` and exits 2; in a sweep the job records it
in failed.json and the others go on. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class UserError(Exception):
    """A problem with something the user gave: a file, a folder, a config key, a model artifact."""

    def __init__(self, where, problem: str):
        self.where = str(where)
        self.path = self.where  # the file (or setting) named; kept under its old name for callers
        self.problem = " ".join(str(problem).split())
        super().__init__(f"{self.where}: {self.problem}")


class InputError(UserError):
    """A file, folder or setting that cannot be used as given."""


class EncoderUnavailable(UserError):
    """The configured encoder can be had neither from disk nor from the hub."""

    def __init__(self, problem: str, where: str = "embedder"):
        super().__init__(where, problem)
