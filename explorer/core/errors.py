"""Every error the explorer raises on purpose derives from ExplorerError.

The UI and the CLI catch ExplorerError and show its message as one plain sentence; anything
else is a bug. Each subclass also derives from the built-in error a caller would expect.
"""

from __future__ import annotations


class ExplorerError(Exception):
    """Base of all deliberate, user-facing errors."""


class UnknownArchitectureError(ExplorerError, KeyError):
    """An architecture name that is not in the catalog."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean: {', '.join(suggestions)}?" if suggestions else ""
        # Where to look for every name depends on where the user is: the command line adds
        # "Run `explorer list`", a page points at its own search box.
        super().__init__(f"Unknown architecture {name!r}.{hint}")

    def __str__(self) -> str:  # KeyError would otherwise print the repr of the message
        return str(self.args[0])


class InputSizeError(ExplorerError, ValueError):
    """An input size the network cannot take (wrong channels, fixed-size layers, bad value)."""


class InputTooSmallError(InputSizeError):
    """The input's spatial size fell below 1 somewhere inside the network."""


class SpecError(ExplorerError, ValueError):
    """A malformed typed layer stack; `position` is the offending token's character offset."""

    def __init__(self, message: str, *, token: str = "", position: int = -1) -> None:
        self.token = token
        self.position = position
        super().__init__(message)


class ImageError(ExplorerError, ValueError):
    """Image bytes that cannot be accepted: empty, corrupt, not an image, too big."""


class WeightsError(ExplorerError, ValueError):
    """Weights that cannot be found, downloaded or loaded into a model."""


class BudgetError(ExplorerError, ValueError):
    """Work over a documented budget (explorer.core.limits), refused before it starts; the
    message names the estimated number and the limit."""
