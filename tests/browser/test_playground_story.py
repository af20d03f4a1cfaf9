"""The whole product in a real browser, as people use it: connect, enrol from the QR on the page,
request, approve in the modal, reviewers approve in Confluence, the admin's token list; and bad
input answered as Slack answers it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver import ActionChains, Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from emulators.approvalflow.seed import CAROL
from testkit.rfc6238 import code_for_step, parse_otpauth
from tests.browser.conftest import ARTEFACTS, Served
from tests.qr import decode_qr_png

T = TypeVar("T")
WAIT_SECONDS = 30.0


class Person:
    """One person at the playground in the browser: the page as they see it."""

    def __init__(self, driver: Chrome, served: Served, shots: Path) -> None:
        self.driver = driver
        self.base = f"{served.url}/playground"
        self.served = served
        self.shots = shots
        self.last_step: dict[str, int] = {}

    # -- waiting -------------------------------------------------------------------------------

    def until(self, what: str, probe: Callable[[], T | None], timeout: float = WAIT_SECONDS) -> T:
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = probe()
            except (StaleElementReferenceException, WebDriverException):
                found = None  # htmx swapped the part while we looked; look again
            if found:
                return found
            if time.monotonic() > deadline:
                self.shot(f"timeout-{what.replace(' ', '-')[:40]}")
                raise AssertionError(f"waited {timeout}s for {what}")
            time.sleep(0.2)

    def find(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def one(self, css: str) -> WebElement:
        return self.until(css, lambda: next(iter(self.find(css)), None))

    def text_in(self, css: str, text: str) -> WebElement:
        return self.until(
            f"{text!r} in {css}", lambda: next((e for e in self.find(css) if text in e.text), None)
        )

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    # -- acting --------------------------------------------------------------------------------

    def be(self, handle: str) -> None:
        self.driver.get(f"{self.base}/who")
        self.one(f"#as-{handle}").click()
        self.one("#composer")

    def open(self, nav: str) -> None:
        self.one(f"#nav-{nav}").click()
        self.one("#composer" if nav != "home" else "#home")

    def say(self, text: str) -> None:
        composer = self.one("#composer")
        composer.send_keys(text)
        composer.send_keys(Keys.ENTER)
        self.until(
            "the composer to empty", lambda: self.one("#composer").get_attribute("value") == ""
        )

    def button(self, action_id: str, scope: str = "#pane") -> WebElement:
        return self.one(f'{scope} [data-action-id="{action_id}"]')

    def modal_input(self, block: str) -> WebElement:
        return self.one(f'#modal-form [name^="{block}::"]')

    def submit_modal(self) -> None:
        self.one("#modal-submit").click()

    def scan(self, image: WebElement) -> str | None:
        """What a phone camera pointed at the image on the screen reads, if anything."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
        try:
            return decode_qr_png(image.screenshot_as_png)
        except ValueError:
            return None

    def code(self, secret: str, who: str) -> str:
        """The authenticator's code now; never one step already used (the bot refuses reuse,
        and accepts one step ahead for clock skew)."""
        step = max(int(time.time()) // 30, self.last_step.get(who, -1) + 1)
        self.last_step[who] = step
        return code_for_step(secret, step)

    # -- the story's steps ---------------------------------------------------------------------

    def connect(self, name: str) -> None:
        """/approvals connect, then the sandbox's consent page in a new tab, as `name`."""
        self.open("docs-approvals")
        self.say("/approvals connect")
        main = self.driver.current_window_handle
        self.button("link_connect").click()
        self.until("the consent tab", lambda: len(self.driver.window_handles) > 1)
        [consent] = [h for h in self.driver.window_handles if h != main]
        self.driver.switch_to.window(consent)
        account = Select(self.one("#account_id"))
        [option] = [o for o in account.options if name in o.text]
        account.select_by_value(str(option.get_attribute("value")))
        self.one('button[value="allow"]').click()
        self.until("the callback page", lambda: "/atlassian/callback" in self.driver.current_url)
        self.text_in("body", "Your Atlassian account is linked")
        self.driver.close()
        self.driver.switch_to.window(main)
        # The bot confirms in the person's DM with it.
        self.open("dm")
        self.text_in("#pane .msg", "is now linked")

    def enrol(self, who: str, *, shoot: str | None = None, try_empty: bool = False) -> str:
        """/approvals enroll; the QR read off the page in the DM; the code typed in the modal."""
        self.open("dm")
        self.say("/approvals enroll")
        qr = self.one("#pane img.file-img")
        self.until("the QR to load", lambda: qr.get_attribute("naturalWidth") not in (None, "0"))
        if shoot:
            self.shot(shoot)
        _, secret, _ = parse_otpauth(self.until("a readable QR", lambda: self.scan(qr)))
        self.button("token_enter_code").click()
        if try_empty:
            # An empty required field: Slack's client shows the error under it, sends nothing.
            self.submit_modal()
            error = self.one('#modal .error[data-block="code"]')
            assert error.text == "Please complete this required field."
            self.shot("03-required-field")
        self.modal_input("code").send_keys(self.code(secret, who))
        self.submit_modal()
        self.text_in("#modal", "active")
        self.one("#modal-close").click()
        self.until("the modal to close", lambda: not self.find("#modal-form"))
        return secret


def test_connect_enrol_request_approve_review_and_admin(
    browser: Chrome, playground_process: Served
) -> None:
    shots = ARTEFACTS
    shots.mkdir(parents=True, exist_ok=True)
    page = Person(browser, playground_process, shots)

    browser.get(f"{playground_process.url}/playground")
    page.one("#as-alice")
    page.shot("01-pick-a-person")
    page.be("alice")

    # Bad input, as Slack answers it: an unknown subcommand gets the help.
    page.open("docs-approvals")
    page.say("/approvals frobnicate")
    page.text_in("#pane .msg.ephemeral", "/approvals connect")

    page.connect("Alice")
    assert page.enrol("alice", shoot="02-enrolment-qr-in-dm", try_empty=True)

    page.open("docs-approvals")
    page.say("/approvals request cs-eng184 @bob")
    request = page.text_in("#pane .msg:not(.ephemeral)", "PR-184 Auth docs update")
    request_id = request.get_attribute("id")
    assert page.find(f'#{request_id} [data-action-id="request_approve"]')
    page.shot("04-request-posted")

    page.be("bob")
    page.connect("Bob")
    bob_secret = page.enrol("bob")
    page.open("docs-approvals")
    approve = page.button("request_approve", f"#{request_id}")
    notices = len(page.find("#pane .msg"))
    # A double click sends two clicks, as in Slack: one modal, filled in, and no complaint.
    ActionChains(browser).double_click(approve).perform()
    page.modal_input("code")
    time.sleep(1.5)  # room for a second modal or an error notice, were one coming
    assert len(page.find("#modal-form")) == 1
    page.text_in("#modal-form", "PR-184")
    assert len(page.find("#pane .msg")) == notices
    # A wrong code: the bot's error shows under the field, and what Bob typed stays, as in Slack.
    page.modal_input("code").send_keys("000000")
    page.submit_modal()
    page.one('#modal .error[data-block="code"]')
    assert page.modal_input("code").get_attribute("value") == "000000"
    page.modal_input("code").clear()
    page.modal_input("code").send_keys(page.code(bob_secret, "bob"))
    page.shot("05-approve-modal")
    page.submit_modal()
    page.text_in("#modal", "Signed and submitted")
    page.one("#modal-close").click()
    page.until("the modal to close", lambda: not page.find("#modal-form"))

    # The channel message is rewritten in place: same message, no buttons left.
    def without_buttons() -> WebElement | None:
        [message] = page.find(f"#{request_id}")
        left = message.find_elements(By.CSS_SELECTOR, '[data-action-id="request_approve"]')
        return None if left else message

    rewritten = page.until("the request to be rewritten", without_buttons)
    assert "(edited)" in rewritten.text
    page.shot("06-request-approved-in-place")

    # A reviewer approves the pages in Confluence (the sandbox's page, linked from the playground).
    sandbox = page.one("#nav-confluence").get_attribute("href")
    browser.get(f"{sandbox}?as={CAROL}")
    for page_id in ("65601", "65602", "65603"):
        page.one(f"#approve-{page_id}").click()
        page.text_in("#flash", f"Approved page {page_id}")
    assert page.one("#cs-cs-eng184 .rollup").text == "all_approved"
    page.shot("07-confluence-reviewer")

    browser.get(f"{playground_process.url}/playground/?c=C0DOCS")
    page.text_in(f"#{request_id}", "Review in ApprovalFlow: all pages approved")

    page.be("ada")
    page.open("docs-approvals")
    page.say("/approvals tokens")
    listing = page.until(
        "the token list",
        lambda: next(
            (
                e
                for e in page.find("#modal-form, #pane .msg.ephemeral")
                if "Alice Anders" in e.text and "Bob Baker" in e.text
            ),
            None,
        ),
    )
    assert listing
    page.shot("08-admin-tokens")

    # On a phone's width every conversation stays reachable and nothing runs off the screen.
    browser.set_window_size(390, 844)
    page.be("bob")
    page.open("dm")
    page.open("docs-approvals")
    page.text_in(f"#{request_id}", "PR-184")
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    ), "the page scrolls sideways at a phone's width"
    assert page.one("#composer").is_displayed()
    page.shot("09-phone-width")
