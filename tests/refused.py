"""`refused`: `pytest.raises` for a refusal, matched against the words a person reads of it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

from handlers.blocks.refusals import refusal_text
from services.errors import UserError

E = TypeVar("E", bound=UserError)


@contextmanager
def refused(kind: type[E], match: str) -> Iterator[pytest.ExceptionInfo[E]]:
    """Expect a `kind` refusal whose rendered text matches the regular expression `match`."""
    with pytest.raises(kind) as caught:
        yield caught
    text = refusal_text(caught.value)
    assert re.search(match, text), f"{match!r} is not in {text!r}"


def said(error: BaseException) -> str:
    """What a person reads of an error: a refusal in its words, any other error's own text."""
    return refusal_text(error) if isinstance(error, UserError) else str(error)
