"""Know what you sign, over HTTP: page titles (and space) on every surface, versions for single
pages, restricted pages, links made before the bot asked for Confluence, and what changed."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from bot.wiring import REQUEST_REMINDERS_JOB, TRACK_REVIEWS_JOB
from tests.sandbox.conftest import APPROVALFLOW_SCOPES
from tests.scenario.evidence_kit import approved_and_reviewed, by_button
from tests.scenario.requests_kit import (
    PEOPLE,
    Requests,
    buttons,
    message_text,
    view_text,
)
from tests.scenario.test_evidence import read_pdf

ADR = "https://sandbox.atlassian.net/wiki/spaces/ENG/pages/65611/ADR"
ADR_TITLE = "Architecture decision records"
PR184_PAGES = ("Authentication overview", "OAuth client setup", "Session management")


async def home_text(world: Requests, user: str) -> str:
    published = len(world.slack.calls_to("views.publish"))
    response = await world.bot.post_signed(
        json.dumps(
            {
                "type": "event_callback",
                "team_id": "T0TEAM",
                "api_app_id": "A0APP",
                "event_id": f"Ev{published}",
                "event_time": 1,
                "event": {
                    "type": "app_home_opened",
                    "user": user,
                    "tab": "home",
                    "channel": "D0X",
                    "event_ts": "1.0",
                },
            }
        ),
        "application/json",
    )
    assert response.status_code == 200
    await world.slack.wait_for("views.publish", count=published + 1)
    home = world.slack.home_view(user)
    assert home is not None
    return view_text(home)


async def test_titles_on_every_surface(world: Requests) -> None:
    world.sandbox.clear_calls()
    change_set = await world.request("cs-eng184 <@U0BOB>")
    page = await world.request(f"{ADR} <@U0BOB>")
    # One bulk read of the pages and one of the space, per request, with the requester's token.
    pages_calls = world.sandbox.calls_to("confluence_pages", who="alice@example.com")
    assert [c.params["id"] for c in pages_calls] == ["65601,65602,65603", "65611"]
    assert len(world.sandbox.calls_to("confluence_spaces")) == 2

    message = message_text(world.message(change_set))
    assert all(title in message for title in PR184_PAGES)
    assert "space ENG (Engineering Docs)" in message and "Page 6560" not in message
    assert ADR_TITLE in message_text(world.message(page))

    pending = await world.command("pending", "U0BOB")
    assert pending is not None and ADR_TITLE in str(pending.blocks)
    assert ADR_TITLE in await home_text(world, "U0BOB")

    form = await world.click("U0BOB", change_set.id, posted=change_set)
    assert all(title in view_text(form) for title in PR184_PAGES)
    world.sandbox.clear_calls()
    signed = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert "Signed and submitted" in view_text(signed["view"])
    # The titles were kept with the request: the signature asked Confluence nothing.
    assert world.sandbox.calls_to("confluence_pages") == []
    assert all(title in view_text(signed["view"]) for title in PR184_PAGES)
    after = message_text(world.message(change_set))
    assert all(title in after for title in PR184_PAGES)
    [note] = world.slack.replies(change_set.channel, change_set.ts)
    assert all(title in note.text for title in PR184_PAGES)

    form = await world.click("U0BOB", page.id, posted=page)
    assert ADR_TITLE in view_text(form) and "v8" in view_text(form)
    await world.submit("U0BOB", form, code=world.code("U0BOB"))
    dm = world.slack.dm_messages("U0ALICE")[-1]
    assert ADR_TITLE in dm.text
    [note] = world.slack.replies(page.channel, page.ts)
    assert ADR_TITLE in note.text

    # Tracking: the review moves on in ApprovalFlow; the update names the page again.
    world.sandbox.approve_page("65611", "bob@example.com")
    world.clock.advance(seconds=120)
    await world.job(TRACK_REVIEWS_JOB).run()
    assert ADR_TITLE in world.slack.dm_messages("U0ALICE")[-1].text
    assert ADR_TITLE in message_text(world.message(page))


async def test_a_single_page_edited_before_signing_brings_the_form_back(
    world: Requests,
) -> None:
    await world.ready("U0CAROL")
    page = await world.request(f"{ADR} <@U0BOB>")
    world.sandbox.edit_page("65611", by="carol@example.com")
    form = await world.click("U0BOB", page.id, posted=page)
    text = view_text(form)
    assert "changed since the request was posted" in text and "v9" in text
    # What changed: Confluence's comparison of v8 and v9, by whom, when.
    assert "changes since v8" in text and "last edited by <@U0CAROL>" in text
    assert "selectedPageVersions=8&selectedPageVersions=9" in json.dumps(form.blocks)

    world.sandbox.edit_page("65611", by="alice@example.com")  # again, while the form is open
    updates = len(world.slack.calls_to("views.update"))
    answer = await world.submit("U0BOB", form, code=world.code("U0BOB"))
    assert answer["response_action"] == "update"
    assert "changed since this form opened" in view_text(answer["view"])
    await world.slack.wait_for("views.update", count=updates + 1)
    fresh = world.slack.views[form.id]
    assert "v10" in view_text(fresh) and "last edited by <@U0ALICE>" in view_text(fresh)
    assert world.sandbox.calls_to("submit_page") == []
    signed = await world.submit("U0BOB", fresh, code=world.code("U0BOB"))
    assert "Signed and submitted" in view_text(signed["view"])
    [entry] = [e for e in await world.audit() if e.action == "request.signature.recorded"]
    assert entry.details["snapshot_digest"] != ""


async def test_a_restricted_page_is_named_as_such(world: Requests) -> None:
    await world.ready("U0DAVE")
    posted = await world.request("cs-eng184 <@U0BOB>", user="U0DAVE")
    text = message_text(world.message(posted))
    assert "restricted page 65603" in text
    assert "Authentication overview" in text and "Session management" not in text
    form = await world.click("U0BOB", posted.id, posted=posted)
    assert "restricted page 65603" in view_text(form)
    # Bob can read the page and asks Dave to sign it; Dave cannot read what he would sign.
    single = await world.request("65603 <@U0DAVE>", user="U0BOB")
    assert "Session management" in message_text(world.message(single))
    refused = await world.click("U0DAVE", single.id, posted=single)
    assert "Confluence does not show you page 65603" in view_text(refused)


async def test_a_link_without_the_new_scopes(world: Requests) -> None:
    """Carol linked before the bot asked for Confluence: told what is missing, with a button;
    still able to sign change sets."""
    connect = urlsplit(await world.linking.connect_url("U0CAROL"))
    query = dict(parse_qsl(connect.query))
    query["scope"] = APPROVALFLOW_SCOPES
    old = connect._replace(query=urlencode(query)).geturl()
    result = await world.linking.consent(old, PEOPLE["U0CAROL"][1])
    assert result.url.params.get("result") == "linked"
    await world.enrol("U0CAROL")

    status = await world.command("status", "U0CAROL")
    assert status is not None
    assert "read:page:confluence" in (status.text or "") and "read:space:confluence" in (
        status.text or ""
    )
    [button] = [b for b in buttons(status.blocks) if b["action_id"] == "link_connect"]
    assert "/sandbox/authorize?" in button["url"]

    posted = await world.request("cs-eng184 <@U0CAROL>")
    form = await world.click("U0CAROL", posted.id, posted=posted)
    assert "Authentication overview" in view_text(form)
    signed = await world.submit("U0CAROL", form, code=world.code("U0CAROL"))
    assert "Signed and submitted" in view_text(signed["view"])

    # Carol asking for a single page is told what her link lacks, with the button.
    asked = await world.command(f"request {ADR}", "U0CAROL")
    assert asked is not None and "read:page:confluence" in (asked.text or "")
    assert [b["action_id"] for b in buttons(asked.blocks)] == ["link_connect"]

    single = await world.request(f"{ADR} <@U0CAROL>")
    refused = await world.click("U0CAROL", single.id, posted=single)
    assert "read:page:confluence" in view_text(refused)
    assert [b["action_id"] for b in buttons(refused.blocks)] == ["request_sign_connect"]

    # Carol's own change set request posts, with ids where titles would be.
    answer = await world.command("request cs-qms033 <@U0BOB>", "U0CAROL")
    assert answer is not None and "read:page:confluence" in (answer.text or "")
    [mine] = [m for m in world.slack.messages("C0DOCS") if "cs-qms033" in m.text]
    assert "Page 65705" in message_text(mine)


async def test_the_evidence_report_names_each_page(world: Requests, tmp_path: Path) -> None:
    posted = await approved_and_reviewed(world)
    file = await by_button(world, "U0BOB", posted)
    assert file.content is not None
    pdf = read_pdf(file.content, tmp_path)
    assert all(pdf.has(title) for title in PR184_PAGES)
    assert "(title not known)" not in pdf.text


async def test_reminders_and_rejections_name_the_page(world: Requests) -> None:
    page = await world.request(f"{ADR} <@U0BOB>")
    world.clock.advance(hours=25)
    await world.job(REQUEST_REMINDERS_JOB).run()
    [reminder] = world.slack.replies(page.channel, page.ts)
    assert f"{page.id} ({ADR_TITLE})" in reminder.text
    form = await world.click("U0BOB", page.id, "reject", posted=page)
    reason = "The decision log misses the 2026 entries."
    await world.submit("U0BOB", form, code=world.code("U0BOB"), reason=reason)
    rejection = world.slack.replies(page.channel, page.ts)[-1]
    assert f"page 65611 ({ADR_TITLE}) is left as it is" in rejection.text
