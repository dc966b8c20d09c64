"""The page's Sign up button with signup answering alike for new and taken e-mails (issue 12,
7): a new e-mail lands in the library, a taken one with another password gets a message and no
login, and the owner signing up again with the right password is simply logged in."""

from __future__ import annotations

import pytest
from web.conftest import browser, module_server, new_page  # noqa: F401 - fixtures by name

pytestmark = pytest.mark.slow


def press_sign_up(page, url: str, email: str, password: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("#signup")


def test_sign_up_button_for_a_new_and_a_taken_email(browser, module_server) -> None:  # noqa: ANN001, F811
    owner = new_page(browser)
    press_sign_up(owner, module_server.url, "owner@example.org", "lecture-notes-123")
    owner.wait_for_selector("table.library")

    stranger = new_page(browser)
    press_sign_up(stranger, module_server.url, "owner@example.org", "another passphrase")
    stranger.wait_for_function("() => document.querySelector('p.error').textContent !== ''")
    message = stranger.inner_text("p.error")
    assert "already has an account" in message
    assert stranger.locator("table.library").count() == 0
    assert stranger.request.get(f"{module_server.url}/api/auth/me").status == 401

    again = new_page(browser)  # the owner, who forgot having signed up
    press_sign_up(again, module_server.url, "owner@example.org", "lecture-notes-123")
    again.wait_for_selector("table.library")
    assert not stranger.errors and not owner.errors and not again.errors
