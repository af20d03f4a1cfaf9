"""mrkdwn as the playground shows it: Slack's formatting, mentions by name, nothing unescaped."""

from __future__ import annotations

from emulators.slack import FakeSlack
from emulators.slack.delivery import escape_mentions
from emulators.slack.playground.mrkdwn import to_html
from emulators.slack.records import FakeUsergroup

NAMES = {"U1": "alice", "C1": "docs", "S1": "reviewers"}


def render(text: str) -> str:
    name = NAMES.get
    return str(
        to_html(
            text,
            user_name=lambda i: name(i, i),
            channel_name=lambda i: name(i, i),
            group_name=lambda i: name(i, i),
        )
    )


def test_formatting_mentions_and_links() -> None:
    html = render("*bold* _it_ ~gone~ `a*b*` *<@U1>* <#C1> <!subteam^S1> <https://x.io|site>")
    assert "<b>bold</b>" in html and "<i>it</i>" in html and "<s>gone</s>" in html
    assert "<code>a*b*</code>" in html  # no formatting inside code
    assert '<b><span class="mention">@alice</span></b>' in html
    assert '<span class="mention">#docs</span>' in html
    assert '<span class="mention">@reviewers</span>' in html
    assert '<a href="https://x.io" target="_blank" rel="noopener noreferrer">site</a>' in html
    assert render("```\n*x*\n```").startswith("<pre>")
    assert render("&gt; quoted\nnot") == "<blockquote>quoted</blockquote><br>not"
    assert render(":warning: :custom-one:") == "⚠️ :custom-one:"


def test_nothing_reaches_the_page_unescaped() -> None:
    html = render("<script>x</script> &lt;b&gt; <javascript:alert(1)|click> \x000\x00")
    assert "<script>" not in html and "<b>" not in html
    assert "href" not in html  # only http(s), mailto and slack links become links
    assert "\x00" not in html


def test_commands_are_escaped_as_slack_escapes_them() -> None:
    slack = FakeSlack()
    slack.add_user("U0ALICE", name="alice")
    slack.channel_names["C0DOCS"] = "docs"
    slack.usergroups["S0REV"] = FakeUsergroup("S0REV", "reviewers", "Reviewers", [])
    escaped = escape_mentions("cs-1 @alice, @reviewers #docs @nobody a<b & c", slack)
    assert escaped == (
        "cs-1 <@U0ALICE|alice>, <!subteam^S0REV|@reviewers> <#C0DOCS|docs> @nobody a&lt;b &amp; c"
    )
