"""Library parameters as the server takes them: strings."""

from __future__ import annotations

from typing import Any, Mapping, Optional


def param_str(value: Any) -> str:
    """A library parameter as the server wants it: a string (booleans as 1/0)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def params(parameters: Optional[Mapping[str, Any]]) -> dict[str, str]:
    return {str(k): param_str(v) for k, v in (parameters or {}).items()}
