"""ApprovalFlow's request bodies and answers; answers tolerate every part the docs leave open.

Answers keep unknown fields (`model_extra`), accept numbers for ids and numeric strings for
counts, turn an optional field of the wrong type into None, and keep any state string as sent
(`RollupState` names the documented ones). Only what an answer is for is required (a change
set's `id`, a result's `pageId`, a submit's `results`); without it the boundary raises
UpstreamUnavailable. Requests forbid extra fields: nothing but the documented ones, and never a
user or account id, can reach a body.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

T = TypeVar("T")


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # An optional field the server filled with something unusable is as good as absent.
    try:
        return handler(value)
    except ValidationError:
        return None


# An optional answer field: absent, null or unusable all read as None.
Lenient = Annotated[T | None, WrapValidator(_or_none)]


class Answer(BaseModel):
    """Base of every answer model: camelCase on the wire, unknown fields kept, immutable."""

    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        coerce_numbers_to_str=True,
    )


class Body(BaseModel):
    """Base of every request model: only the documented fields, camelCase on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON body or query: fields left as None are not sent (a partial update)."""
        return self.model_dump(mode="json", exclude_none=True)


def _none_as_empty(value: Any) -> Any:
    return () if value is None else value


# --- requests --------------------------------------------------------------------------------

Id = Annotated[str, Field(min_length=1, max_length=255)]


class PageRefBody(Body):
    page_id: Id


class SpaceQuery(Body):
    """GET /changeSets?spaceId= (the space id, not its key)."""

    space_id: Id


class ChangeSetId(Body):
    """The query of GET /changeSets/detail and the body of archive, submit and preflight."""

    change_set_id: Id


class PageId(Body):
    """The body of POST /pages/submit and /pages/preflight."""

    page_id: Id


class NewChangeSet(Body):
    """POST /changeSets."""

    space_id: Id
    title: Annotated[str, Field(min_length=1)]
    summary: str | None = None
    reference_url: str | None = None
    page_refs: tuple[PageRefBody, ...]


class ChangeSetUpdate(Body):
    """POST /changeSets/update; `page_refs` replaces the whole list (§2.4 [I])."""

    change_set_id: Id
    title: Annotated[str, Field(min_length=1)] | None = None
    summary: str | None = None
    reference_url: str | None = None
    page_refs: tuple[PageRefBody, ...] | None = None


# --- answers ---------------------------------------------------------------------------------


class RollupState(StrEnum):
    """The six documented rollup states (§4.2); others are kept as the raw string."""

    OPEN = "open"
    IN_REVIEW = "in_review"
    PARTIALLY_APPROVED = "partially_approved"
    ALL_APPROVED = "all_approved"
    HAS_REJECTIONS = "has_rejections"
    STALE = "stale"


class PageRef(Answer):
    """A page of a change set; detail adds its version enrichment (§2.2)."""

    page_id: str
    current_page_version: Lenient[int] = None
    approved_at_version: Lenient[int] = None
    is_stale: Lenient[bool] = None
    version_delta: Lenient[int] = None

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, data: Any) -> Any:
        # The list example elides pageRefs as [...]; a bare id is a plausible spelling of one.
        if isinstance(data, str | int) and not isinstance(data, bool):
            return {"pageId": str(data)}
        return data


class ChangeSet(Answer):
    """A change set as list and detail show it (§2.1, §2.2)."""

    id: str
    space_id: Lenient[str] = None
    title: Lenient[str] = None
    summary: Lenient[str] = None
    reference_url: Lenient[str] = None
    status: Lenient[str] = None
    rollup_state: Lenient[str] = None
    page_refs: tuple[PageRef, ...] = ()
    created_at: Lenient[AwareDatetime] = None
    created_by: Lenient[str] = None

    _empty_refs = field_validator("page_refs", mode="before")(_none_as_empty)

    @property
    def rollup(self) -> RollupState | None:
        """The documented rollup state, or None when the server sent another (see rollup_state)."""
        try:
            return RollupState(self.rollup_state) if self.rollup_state is not None else None
        except ValueError:
            return None

    @property
    def archived(self) -> bool:
        return self.status == "archived"

    @property
    def page_ids(self) -> tuple[str, ...]:
        return tuple(ref.page_id for ref in self.page_refs)


class ChangeSetList(Answer):
    """GET /changeSets."""

    success: Lenient[bool] = None
    change_sets: tuple[ChangeSet, ...] = ()

    _empty_sets = field_validator("change_sets", mode="before")(_none_as_empty)


class ChangeSetDetail(Answer):
    """GET /changeSets/detail; its envelope is undocumented, so a bare change set is read too."""

    success: Lenient[bool] = None
    change_set: ChangeSet

    @model_validator(mode="before")
    @classmethod
    def _envelope(cls, data: Any) -> Any:
        if isinstance(data, dict) and "changeSet" not in data and "change_set" not in data:
            if "id" in data:
                rest = {key: value for key, value in data.items() if key != "success"}
                return {"success": data.get("success"), "changeSet": rest}
        return data


class ChangeSetSaved(Answer):
    """What create, update and archive answer (undocumented: the change set, or its id)."""

    success: Lenient[bool] = None
    # Lenient: a garbled echo must not hide that the write itself went through.
    change_set: Lenient[ChangeSet] = None
    change_set_id: Lenient[str] = None
    id: Lenient[str] = None

    @property
    def saved_id(self) -> str | None:
        """The change set's id, wherever the answer put it."""
        if self.change_set is not None:
            return self.change_set.id
        return self.change_set_id or self.id


def _infer_outcome(data: Any, field: str) -> Any:
    """Fill a missing yes/no from the documented either-or: `workflowId` when it went (or would
    go) through, `reason` when it did not."""
    if isinstance(data, dict) and data.get(field) is None:
        if data.get("reason"):
            return {**data, field: False}
        if data.get("workflowId") or data.get("workflow_id"):
            return {**data, field: True}
    return data


class PagePreflight(Answer):
    """One page's eligibility: a change set preflight's `results[]` entry, or the whole answer of
    POST /pages/preflight (undocumented; assumed to look like one entry [I])."""

    page_id: str
    can_submit: bool
    workflow_id: Lenient[str] = None
    reason: Lenient[str] = None
    success: Lenient[bool] = None
    # [I] Undocumented; read when the server sends it, so a page snapshot can pin a version.
    current_page_version: Lenient[int] = None

    @model_validator(mode="before")
    @classmethod
    def _outcome(cls, data: Any) -> Any:
        return _infer_outcome(data, "canSubmit")


class PreflightSummary(Answer):
    total: Lenient[int] = None
    submittable: Lenient[int] = None
    blocked: Lenient[int] = None


class ChangeSetPreflight(Answer):
    """POST /changeSets/preflight (§2.8): a dry run, writing nothing."""

    success: Lenient[bool] = None
    summary: Lenient[PreflightSummary] = None
    results: tuple[PagePreflight, ...]

    @property
    def submittable(self) -> tuple[PagePreflight, ...]:
        return tuple(result for result in self.results if result.can_submit)

    @property
    def blocked(self) -> tuple[PagePreflight, ...]:
        return tuple(result for result in self.results if not result.can_submit)


class PageSubmitResult(Answer):
    """One page's outcome: a bulk submit's `results[]` entry, or the answer of POST
    /pages/submit (undocumented [I]). `reason` says why a skipped page was skipped."""

    page_id: str
    success: bool
    workflow_id: Lenient[str] = None
    reason: Lenient[str] = None

    @model_validator(mode="before")
    @classmethod
    def _outcome(cls, data: Any) -> Any:
        return _infer_outcome(data, "success")


class ChangeSetSubmission(Answer):
    """POST /changeSets/submit (§2.6). Partial success is normal: a top-level `success: true`
    with skipped pages; `results` is the truth, the counts are kept as sent."""

    success: Lenient[bool] = None
    submitted_count: Lenient[int] = None
    skipped_count: Lenient[int] = None
    results: tuple[PageSubmitResult, ...]

    @property
    def submitted(self) -> tuple[PageSubmitResult, ...]:
        return tuple(result for result in self.results if result.success)

    @property
    def skipped(self) -> tuple[PageSubmitResult, ...]:
        return tuple(result for result in self.results if not result.success)


def single_page_answer(data: dict[str, Any], page_id: str) -> dict[str, Any]:
    """The one-page entry of a /pages/* answer, whose shape is undocumented: flat, or inside
    `result`, or as the only element of `results`; the page id defaults to the one asked for."""
    inner = data.get("result")
    results = data.get("results")
    if isinstance(inner, dict):
        data = {**data, **inner}
    elif isinstance(results, list) and len(results) == 1 and isinstance(results[0], dict):
        data = {**data, **results[0]}
    data = {key: value for key, value in data.items() if key not in ("result", "results")}
    if data.get("pageId") is None and data.get("page_id") is None:
        data["pageId"] = page_id
    return data
