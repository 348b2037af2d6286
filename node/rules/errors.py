"""Errors of the rules package: load-time errors say where (file, rule, key, position).

A rule set or scorecard is data written by risk managers; a mistake in it must be found when
the file is loaded (node start-up or hot reload), with enough context to fix it without reading
code, never half-way through scoring an application.
"""

from __future__ import annotations

from pathlib import Path


class RuleSetError(ValueError):
    """A rule set (file or in-memory) that cannot be loaded or compiled."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        rule_id: str | None = None,
        key: str | None = None,
        position: tuple[int, int] | None = None,
        file_line: int | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.rule_id = rule_id
        self.key = key
        self.position = position
        self.file_line = file_line  # where the rule's table starts in the file, when known
        super().__init__(self._render())

    def _render(self) -> str:
        where: list[str] = []
        if self.path is not None:
            where.append(self.path if self.file_line is None else f"{self.path}, line {self.file_line}")
        if self.rule_id is not None:
            where.append(f"rule {self.rule_id!r}")
        if self.key is not None:
            where.append(f"key {self.key!r}")
        if self.position is not None:
            where.append(f"line {self.position[0]}, column {self.position[1]} of the condition")
        return ": ".join([*where, self.message])

    def located(
        self,
        *,
        path: str | Path | None = None,
        rule_id: str | None = None,
        key: str | None = None,
        file_line: int | None = None,
    ) -> RuleSetError:
        """The same error with missing context filled in (callers know more than the parser)."""
        return type(self)(
            self.message,
            path=self.path if self.path is not None else path,
            rule_id=self.rule_id if self.rule_id is not None else rule_id,
            key=self.key if self.key is not None else key,
            position=self.position,
            file_line=self.file_line if self.file_line is not None else file_line,
        )


class RuleEvaluationError(RuntimeError):
    """Evaluating a compiled rule set failed on this input (a feature of the wrong type).

    Inputs are expected to follow the feature catalogue's types; a string where a number is
    expected is a bug in the feature builder, so it fails loudly, naming the rule, rather than
    silently not firing.
    """

    def __init__(self, message: str, *, rule_id: str | None) -> None:
        self.rule_id = rule_id
        super().__init__(f"rule {rule_id!r}: {message}" if rule_id is not None else message)


class ScorecardError(ValueError):
    """A scorecard that cannot be loaded, or an input it cannot score (wrong type)."""

    def __init__(self, message: str, *, path: str | Path | None = None, key: str | None = None) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.key = key
        where = [w for w in (self.path, f"key {key!r}" if key is not None else None) if w is not None]
        super().__init__(": ".join([*where, message]))
