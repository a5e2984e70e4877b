"""The error a refused edit raises, and the words for a value pydantic refused. It sits at the bottom of
app.model so every layer — the values, the project, the commands and the file — can refuse with it without
importing the layers above."""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticUndefined

from app.errors import InputError


class EditError(InputError):
    """The edit is not allowed (unknown act, duration would drop to zero, bad value); nothing changed."""


#: Longest shown value in a validation message; longer ones are cut with an ellipsis.
_SHOWN_INPUT = 40


def validation_problem(error: ValidationError) -> str:
    """The first problem of a pydantic error as one line a user reads — "field 'acts.0.seed': must be 0 or
    more, not -3" — and how many more problems there are ("(and 2 more problems)"). pydantic's own wording
    ("Value error, …", "Input should be …") is replaced by a plain one naming the value found."""
    problems = error.errors()
    first = problems[0]
    location = ".".join(str(part) for part in first["loc"]) or "(top level)"
    others = len(problems) - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return f"field '{location}': {plain_message(first)}{more}"


def plain_message(problem: ErrorDetails) -> str:
    """One pydantic problem (an item of `ValidationError.errors()`) in plain words (no location)."""
    kind = problem["type"]
    context = problem.get("ctx") or {}
    found = _shown(problem.get("input"))
    bounds = {
        "greater_than_equal": ("ge", "must be {} or more"),
        "greater_than": ("gt", "must be more than {}"),
        "less_than_equal": ("le", "must be {} or less"),
        "less_than": ("lt", "must be less than {}"),
        "multiple_of": ("multiple_of", "must be a multiple of {}"),
        "too_short": ("min_length", "must have at least {} items"),
        "too_long": ("max_length", "must have at most {} items"),
        "string_too_short": ("min_length", "must be at least {} characters long"),
        "string_too_long": ("max_length", "must be at most {} characters long"),
    }
    kinds = {
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "float_parsing": "must be a number",
        "float_type": "must be a number",
        "string_type": "must be text",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list [...]",
        "tuple_type": "must be a list [...]",
        "dict_type": "must be an object {...}",
        "model_type": "must be an object {...}",
        "model_attributes_type": "must be an object {...}",
    }
    if kind in bounds:
        key, wording = bounds[kind]
        message = wording.format(context.get(key, "?"))
    elif kind in kinds:
        message = kinds[kind]
    elif kind in ("enum", "literal_error"):
        message = f"must be one of {context.get('expected', '?')}"
    elif kind == "missing":
        return "is missing"
    elif kind == "extra_forbidden":
        return "is not a field Storybeat knows (a typo, or a file from another program?)"
    elif kind in ("value_error", "assertion_error"):
        # The validator's own words; the value is in them already.
        return str(context.get("error", problem["msg"])).strip() or problem["msg"]
    else:
        message = str(problem["msg"]).replace("Input should be", "should be")
    return f"{message}, not {found}" if found is not None else message


def _shown(value: object) -> str | None:
    """A found value as the message shows it: JSON-like, cut to _SHOWN_INPUT characters; None for an object
    or list (too big to show) or nothing at all."""
    if isinstance(value, dict | list | tuple) or value is PydanticUndefined:
        return None
    text = "null" if value is None else repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    return text if len(text) <= _SHOWN_INPUT else text[: _SHOWN_INPUT - 1] + "…"
