"""Browser tests: the real app on a live server, driven in Debian's Chromium.

- `live_server` (pytest-django) serves the app, static files included
  (`django.contrib.staticfiles` is installed, so its StaticFilesHandler serves
  them even with DEBUG off). It implies `transactional_db`: the server thread and
  the test share committed data, and every table is emptied after each test.
- One headless Chromium per test process (per xdist worker) for the tests in this
  package, launched from /usr/bin/chromium: no browser is ever downloaded.
  `make test` installs the Debian package when it is missing; without it these
  tests fail, never skip.
- A browser context (cookies, language, viewport) per page a test asks for, with no cookies;
  contexts are kept for later tests of the process rather than made anew (see new_page).
- `assert_accessible(page)` runs axe-core and fails with its report.
- `log_in(page, user, totp_secret)` goes through the real login form, and the
  second-factor step for personas that have one. `sign_in(page, user)` gives the
  page a logged-in session without the form, for the tests whose subject is
  elsewhere: test_foundation_pages covers the form and the second factor.
"""

import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache

from tests.conftest import PASSWORD

CHROMIUM = Path(os.environ.get("TIDSNOK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests run as root in CI containers
    "--disable-gpu",
    # This machine's network is closed: without these Chromium keeps trying to
    # reach Google's services in the background.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# Norwegian is the default users' language; tests that want English ask for it.
NORWEGIAN = "nb-NO"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="package")
def browser():
    """Chromium, shared by the tests of this package in one test process.

    Playwright's sync API drives its own asyncio event loop from this thread (it
    switches between the test and the loop with greenlets), so while it runs,
    asyncio reports a running loop here. Django takes that to mean "called from
    async code" and refuses every ORM call with SynchronousOnlyOperation, although
    the test's calls are plain blocking calls made between browser steps, with
    nothing else running on that loop meanwhile. DJANGO_ALLOW_ASYNC_UNSAFE turns
    the check off while the browser runs, and only then.

    The scope is this package, not the session, for the same reason: the loop
    must be gone before an xdist worker moves on to other tests, which may use
    asyncio.run() or async_to_sync() and would find a loop already running.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}. The browser tests use Debian's Chromium and never "
            "download one: run `make test` (it installs the package), or "
            "`apt-get install chromium`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def _idle_pages(browser):
    """Pages, each in its own browser context, that earlier tests of this process gave back,
    by the options of their context. A new context and page cost Chromium about a second of
    CPU (its renderer processes), as much as the rest of a short test."""
    return {}


@pytest.fixture
def new_page(browser, live_server, _idle_pages):
    """new_page(locale=..., **context options) gives a page in a browser context of its own
    on the live server, logged in as nobody: a fresh one, or one an earlier test gave back
    with its cookies cleared and showing about:blank (no web storage is used). Each call
    gives another context, as a second person at another computer.

    Script errors and Content-Security-Policy violations in any of its pages fail the test:
    the policy allows no inline script or style, and a page that breaks it works in no real
    browser either."""
    taken = []
    problems = []

    def _new_page(locale: str = NORWEGIAN, **options):
        key = (locale, repr(sorted(options.items())))
        idle = _idle_pages.setdefault(key, [])
        if idle:
            context, page = idle.pop()
        else:
            context = browser.new_context(base_url=live_server.url, locale=locale, **options)
            context.tidsnok_url = live_server.url  # for sign_in's cookie
            # Generous: a loaded CI machine (two workers, two databases) can be slow.
            context.set_default_timeout(30_000)
            page = context.new_page()
        listeners = []

        def watch(watched):
            listeners.append((watched, "pageerror", lambda error: problems.append(
                f"{watched.url}: script error: {error}")))
            listeners.append((watched, "console", lambda message: problems.append(f"{watched.url}: {message.text}")
                              if message.type == "error" and "Content Security Policy" in message.text else None))
            for target, event, listener in listeners[-2:]:
                target.on(event, listener)

        watch(page)
        listeners.append((context, "page", watch))  # a page the test opens itself
        context.on("page", watch)
        taken.append((idle, context, page, listeners))
        return page

    yield _new_page
    for idle, context, page, listeners in taken:
        for target, event, listener in listeners:
            target.remove_listener(event, listener)
        try:
            for other in context.pages:
                if other != page:
                    other.close()
            context.clear_cookies()
            context.clear_permissions()
            page.goto("about:blank")
        except Exception:  # noqa: BLE001  (a page the test broke is not given to the next one)
            context.close()
        else:
            idle.append((context, page))
    assert not problems, "\n".join(problems)


@pytest.fixture
def page(new_page):
    """A page in a Norwegian context without cookies, desktop size."""
    return new_page()


@pytest.fixture(autouse=True)
def _fresh_cache(transactional_db):
    """Rate-limit counters and used TOTP codes live in the database cache, which
    emptying the tables between tests does not touch."""
    cache.clear()
    yield
    cache.clear()


def assert_accessible(page, context=None):
    """axe-core finds no violation on the page as it is now."""
    # The script is injected with page.evaluate (the DevTools protocol), which
    # the page's Content-Security-Policy does not govern: no bypass needed.
    results = Axe().run(page, context=context)
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def fresh_totp_code(secret: str, margin: float = 8.0) -> str:
    """The current code, with at least `margin` seconds of its 30 left: the
    server accepts only the current window, and a slow machine may take a few
    seconds to check it."""
    totp = pyotp.TOTP(secret)
    left = totp.interval - time.time() % totp.interval
    if left < margin:
        time.sleep(left + 0.2)
    return totp.now()


def log_in(page, user, totp_secret: str | None = None, *, expect_path: str | None = "/"):
    """Log in through the form; with a secret, answer the authenticator step too."""
    page.goto("/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").first.click()
    if totp_secret is not None:
        page.wait_for_url("**/accounts/2fa/authenticate/")
        page.fill("input[name=code]", fresh_totp_code(totp_secret))
        page.locator("main form button[type=submit]").first.click()
    if expect_path is not None:
        page.wait_for_url(lambda url: urlsplit(url).path == expect_path)
    return page


def sign_in(page, user, *, path: str | None = "/"):
    """A session for `user` as the login form would leave it (Django's own login(), which
    the form ends in), put into the page's cookies; then open `path`. It skips the form and
    the authenticator step, and the wait for a fresh code that step may need (up to 8 s).
    `path=None` opens nothing."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session,
                               "url": page.context.tidsnok_url, "httpOnly": True, "sameSite": "Lax"}])
    if path is not None:
        page.goto(path)
    return page


def has_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth")
