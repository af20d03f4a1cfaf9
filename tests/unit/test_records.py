"""`evolve` makes what `dataclasses.replace` makes, and leaves to it the records it cannot copy."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property

import pytest

from services.records import evolve
from services.requests.model import Status
from tests.unit.test_request_blocks import request, signature


def test_a_request_evolves_as_replace_makes_it() -> None:
    before = request()
    changes = {"status": Status.SUBMITTING, "signatures": (signature(),), "last_error": None}
    after = evolve(before, **changes)
    assert after == dataclasses.replace(before, **changes)  # type: ignore[arg-type]
    assert type(after) is type(before) and after is not before
    assert before.status is Status.PENDING and before.signatures == ()  # left as it was
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.status = Status.PENDING  # type: ignore[misc]


def test_an_unknown_field_is_refused_as_replace_refuses_it() -> None:
    with pytest.raises(TypeError, match="stauts"):
        evolve(request(), stauts=Status.EXPIRED)


@dataclass(frozen=True)
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclass(frozen=True)
class Cached:
    value: int

    @cached_property
    def double(self) -> int:
        return self.value * 2


@dataclass(frozen=True)
class Derived:
    value: int
    total: int = field(init=False, default=0)


@dataclass(frozen=True, slots=True)
class Slotted:
    value: int


def test_records_a_copy_would_get_wrong_go_through_replace() -> None:
    with pytest.raises(ValueError, match="negative"):
        evolve(Checked(1), value=-1)  # __post_init__ still checks
    cached = Cached(2)
    assert cached.double == 4
    assert evolve(cached, value=5).double == 10  # never the old instance's cached value
    with pytest.raises(ValueError):
        evolve(Derived(1), total=3)  # replace refuses an init=False field; so does evolve
    assert evolve(Slotted(1), value=2) == Slotted(2)
