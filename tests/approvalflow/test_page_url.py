"""What people paste as a target: each page link form, bare ids, garbage, other sites."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.approvalflow import ChangeSetTarget, PageTarget, parse_page_url, parse_target
from services.approvalflow.page_url import tiny_link_code, tiny_link_page_id
from services.errors import InputError
from tests.refused import refused, said

SITE = "https://acme.atlassian.net"


@pytest.mark.parametrize(
    ("pasted", "page_id", "space_key"),
    [
        (
            "https://acme.atlassian.net/wiki/spaces/ENG/pages/65601/Authentication+overview",
            "65601",
            "ENG",
        ),
        ("https://acme.atlassian.net/wiki/spaces/ENG/pages/65601", "65601", "ENG"),
        ("https://acme.atlassian.net/wiki/spaces/ENG/pages/65601/", "65601", "ENG"),
        (
            "https://acme.atlassian.net/wiki/spaces/ENG/pages/65601/Title?focusedCommentId=9#Intro",
            "65601",
            "ENG",
        ),
        ("https://acme.atlassian.net/wiki/spaces/~712020abc/pages/42/Notes", "42", "~712020abc"),
        ("https://acme.atlassian.net/wiki/spaces/ENG/pages/edit-v2/65601", "65601", "ENG"),
        (
            "https://acme.atlassian.net/wiki/spaces/ENG/pages/edit-v2/65601?draftShareId=x",
            "65601",
            "ENG",
        ),
        ("https://acme.atlassian.net/wiki/spaces/ENG/pages/edit/65601", "65601", "ENG"),
        ("https://acme.atlassian.net/wiki/pages/viewpage.action?pageId=65601", "65601", None),
        ("https://acme.atlassian.net/pages/viewpage.action?pageId=65601", "65601", None),
        (
            "https://acme.atlassian.net/wiki/pages/resumedraft.action?draftId=1&pageId=77",
            "77",
            None,
        ),
        ("https://acme.atlassian.net/wiki/x/LIQHD", "201819180", None),
        ("acme.atlassian.net/wiki/spaces/ENG/pages/65601/T", "65601", "ENG"),
        (
            "<https://acme.atlassian.net/wiki/spaces/ENG/pages/65601/T|Auth overview>",
            "65601",
            "ENG",
        ),
        ("<https://acme.atlassian.net/wiki/x/LIQHD>", "201819180", None),
        ("HTTPS://ACME.atlassian.net/wiki/spaces/ENG/pages/65601", "65601", "ENG"),
        ("http://acme.atlassian.net/wiki/spaces/ENG/pages/65601", "65601", "ENG"),
    ],
)
def test_page_link_forms(pasted: str, page_id: str, space_key: str | None) -> None:
    assert parse_target(pasted, site_url=SITE) == PageTarget(page_id=page_id, space_key=space_key)


def test_bare_ids() -> None:
    assert parse_target(" 65601 ") == PageTarget("65601")
    assert parse_target("0065601") == PageTarget("65601")
    assert parse_target("cs-abc123") == ChangeSetTarget("cs-abc123")
    assert parse_target("cs-eng184") == ChangeSetTarget("cs-eng184")


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "   ",
        "0",
        "hello world",
        "cs abc",
        "$(rm -rf)",
        "💥",
        "a" * 200,
        "https://",
        "ftp://acme.atlassian.net/wiki/x/AB",
        "javascript:alert(1)",
    ],
)
def test_garbage_is_an_input_error(garbage: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_target(garbage, site_url=SITE)
    text = said(refused.value)
    assert len(text) < 300 and "a" * 100 not in text


@pytest.mark.parametrize(
    "unreadable",
    [
        "https://acme.atlassian.net/wiki/display/ENG/Authentication+overview",
        "https://acme.atlassian.net/l/cp/0mPd3c1F",
        "https://acme.atlassian.net/wiki/spaces/ENG/overview",
        "https://acme.atlassian.net/wiki/spaces/ENG/pages",
        "https://acme.atlassian.net/wiki/x/not*valid",
        "https://acme.atlassian.net/wiki/x/AAAAAAAAAAAAAAA",
        "https://acme.atlassian.net/wiki/pages/viewpage.action?pageId=abc",
    ],
)
def test_links_without_a_readable_page_ask_for_the_full_url(unreadable: str) -> None:
    with refused(InputError, match="paste the full address"):
        parse_target(unreadable, site_url=SITE)


def test_blog_posts_are_refused_by_name() -> None:
    with refused(InputError, match="blog post"):
        parse_page_url("https://acme.atlassian.net/wiki/spaces/ENG/blog/2026/01/05/123/News")


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.example.com/wiki/spaces/ENG/pages/65601/T",
        "https://acme.atlassian.net.evil.com/wiki/spaces/ENG/pages/65601",
        "https://other.atlassian.net/wiki/x/LIQHD",
        "https://acme.atlassian.net:8443/wiki/spaces/ENG/pages/65601",
        "http://acme.atlassian.net:80/wiki/spaces/ENG/pages/65601",
    ],
)
def test_links_to_other_sites_are_refused(elsewhere: str) -> None:
    with refused(InputError, match=r"this bot works with acme\.atlassian\.net"):
        parse_target(elsewhere, site_url=SITE)


def test_without_a_site_any_host_is_read() -> None:
    assert parse_target("https://other.atlassian.net/wiki/spaces/X/pages/5") == PageTarget("5", "X")


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_tiny_links_round_trip(page_id: int) -> None:
    code = tiny_link_code(page_id)
    assert tiny_link_page_id(code) == str(page_id)
    assert parse_page_url(f"{SITE}/wiki/x/{code}", site_url=SITE) == PageTarget(str(page_id))


@given(st.text(max_size=80))
def test_any_text_parses_or_says_why(text: str) -> None:
    try:
        target = parse_target(text, site_url=SITE)
    except InputError:
        return
    assert isinstance(target, PageTarget | ChangeSetTarget)
