"""The admin web pages in a real browser: Debian's chromium, driven by
selenium through chromium-driver, against a whole server.

The browser calls block, so they run on a thread while the reactor serves
the pages.  Where chromium is not installed the test fails, naming
.ci/packages (which the README's test command runs first); it never skips.
"""

import os
import shutil

from twisted.internet import defer, reactor, threads
from twisted.python.threadpool import ThreadPool
from twisted.trial.unittest import TestCase

from blissnode.client.login import LoginClientCore, generate_user_key, login
from tests.admin_helpers import LOOPBACK, AdminServerMixin

CHROMIUM = os.environ.get("BLISSNODE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BLISSNODE_CHROMEDRIVER", "/usr/bin/chromedriver")

#: Seconds any one browser wait may take before the test fails.
WAIT = 20


def make_browser():
    """A headless chromium, or an error naming .ci/packages (never a skip:
    the README's test command installs the browser)."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER)
               if not (os.path.exists(path) or shutil.which(path))]
    if missing:
        message = ("%s not installed (.ci/packages installs chromium and chromium-driver)"
                   % (", ".join(missing),))
        raise AssertionError(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1280,1024"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    return driver


class BrowserTests(AdminServerMixin, TestCase):
    extra_options = ("--admin-signup", "open")
    timeout = 180

    @defer.inlineCallbacks
    def setUp(self):
        yield AdminServerMixin.setUp(self)
        # A pool of our own: the reactor's may not be running under trial.
        self.pool = ThreadPool(1, 1, "browser")
        self.pool.start()
        self.addCleanup(self.pool.stop)
        self.driver = yield self.in_browser(make_browser)
        self.addCleanup(self.in_browser, self.driver.quit)

    def in_browser(self, function, *args):
        return threads.deferToThreadPool(reactor, self.pool, function, *args)

    def login_ok(self, name, password):
        core = LoginClientCore("6.16.0.105", name, password, login_modulus=self.login_n,
                               credential_modulus=self.cred_n, user_key=generate_user_key())
        return login(reactor, LOOPBACK, self.ports["login-tcp"], core, timeout=20)

    # -- browser steps (on a thread) ---------------------------------------------------

    def _until(self, condition):
        from selenium.webdriver.support.ui import WebDriverWait
        return WebDriverWait(self.driver, WAIT).until(condition)

    def _text_of(self, element_id, text):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        return self._until(EC.text_to_be_present_in_element((By.ID, element_id), text))

    def _dashboard_login(self, token):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        d = self.driver
        d.get(self.url + "/")
        d.find_element(By.ID, "token").send_keys(token)
        d.find_element(By.ID, "token-submit").click()
        self._until(EC.visibility_of_element_located((By.ID, "panel")))

    def _wrong_token(self):
        from selenium.webdriver.common.by import By
        d = self.driver
        d.get(self.url + "/")
        d.find_element(By.ID, "token").send_keys("not the token at all")
        d.find_element(By.ID, "token-submit").click()
        self._text_of("message", "token")
        return d.find_element(By.ID, "panel").is_displayed()

    def _create_account(self, name, password):
        from selenium.webdriver.common.by import By
        d = self.driver
        d.find_element(By.ID, "create-name").send_keys(name)
        d.find_element(By.ID, "create-password").send_keys(password)
        d.find_element(By.ID, "create-submit").click()
        self._text_of("message", "created " + name)
        return [e.text for e in d.find_elements(By.CLASS_NAME, "account-name")]

    def _click(self, element_id, expect):
        from selenium.webdriver.common.by import By
        self.driver.find_element(By.ID, element_id).click()
        self._text_of("message", expect)

    def _dashboard_again(self):
        """Back to the dashboard, still signed in with the token."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        self.driver.get(self.url + "/")
        self._until(EC.visibility_of_element_located((By.ID, "panel")))

    def _click_and_answer(self, element_id, answer, expect):
        """Click a button that asks with ``window.prompt`` (``answer`` typed)
        or ``window.confirm`` (``answer`` None: accepted)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        self.driver.find_element(By.ID, element_id).click()
        alert = self._until(EC.alert_is_present())
        if answer is not None:
            alert.send_keys(answer)
        alert.accept()
        self._text_of("message", expect)

    def _refresh_and_click(self, element_id, expect):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        self.driver.find_element(By.ID, "refresh").click()
        self._until(EC.element_to_be_clickable((By.ID, element_id)))
        self._click(element_id, expect)

    def _queues_text(self):
        from selenium.webdriver.common.by import By
        self.driver.find_element(By.ID, "refresh").click()
        self._text_of("queues", "webuser1")
        return self.driver.find_element(By.ID, "queues").text

    def _status_text(self):
        from selenium.webdriver.common.by import By
        self.driver.find_element(By.ID, "refresh").click()
        self._text_of("status-users-online", "")
        return (self.driver.find_element(By.ID, "status").text,
                self.driver.find_element(By.ID, "sessions").text,
                self.driver.find_element(By.ID, "registration-state").text)

    def _setup_page(self):
        from selenium.webdriver.common.by import By
        d = self.driver
        d.get(self.url + "/setup")
        return (d.find_element(By.ID, "mod-login").text, d.find_element(By.ID, "fp-credential").text,
                d.find_element(By.ID, "patch-command").text)

    def _signup(self, name, password):
        from selenium.webdriver.common.by import By
        d = self.driver
        d.get(self.url + "/signup")
        d.find_element(By.ID, "signup-name").send_keys(name)
        d.find_element(By.ID, "signup-password").send_keys(password)
        d.find_element(By.ID, "signup-submit").click()
        self._text_of("signup-result", "Created the account " + name)

    # -- the test ------------------------------------------------------------------------

    @defer.inlineCallbacks
    def test_operator_pages(self):
        shown = yield self.in_browser(self._wrong_token)
        self.assertFalse(shown)

        yield self.in_browser(self._dashboard_login, self.token)
        names = yield self.in_browser(self._create_account, "webuser1", "from the browser")
        self.assertEqual(names, ["webuser1"])
        result = yield self.login_ok("webuser1", "from the browser")
        self.assertTrue(result.ok)

        # who is online: a client signed in to the event server shows up
        from blissnode.client.event import sign_in
        signed = yield sign_in(reactor, "5.5.0.124", "webuser1", (LOOPBACK, self.ports["login-tcp"]),
                               (LOOPBACK, self.ports["event-tcp"]), self.login_n,
                               credential_modulus=self.cred_n, password="from the browser")
        self.addCleanup(signed.close)
        status, sessions, registration = yield self.in_browser(self._status_text)
        self.assertIn("webuser1", sessions)
        self.assertIn("5.5.0.124", sessions)
        self.assertIn("event 1", status)
        self.assertEqual(registration, "closed")

        # suspend from the page: refused at login; the event session ended
        yield self.in_browser(self._click, "suspend-webuser1", "suspended webuser1")
        result = yield self.login_ok("webuser1", "from the browser")
        self.assertEqual(result.reason, "account_blocked")
        self.assertEqual([s for s in self.service.core.live_sessions() if "webuser1" in s.users],
                         [])
        yield self.in_browser(self._click, "unsuspend-webuser1", "may sign in again")
        result = yield self.login_ok("webuser1", "from the browser")
        self.assertTrue(result.ok)

        # kick from the page: the event session ends
        signed = yield sign_in(reactor, "5.5.0.124", "webuser1", (LOOPBACK, self.ports["login-tcp"]),
                               (LOOPBACK, self.ports["event-tcp"]), self.login_n,
                               credential_modulus=self.cred_n, password="from the browser")
        self.addCleanup(signed.close)
        live = [s for s in self.service.core.live_sessions() if "webuser1" in s.users]
        self.assertEqual(len(live), 1)
        sid = live[0].session_id
        yield self.in_browser(self._refresh_and_click, "kick-" + sid, "ended " + sid)
        self.assertEqual([s for s in self.service.core.live_sessions() if "webuser1" in s.users],
                         [])

        # an offline message waiting for webuser1 shows in the queue panel
        yield self.service.store.messages.store_message("webuser1", "someone", "message",
                                                        b"left for later")
        queues = yield self.in_browser(self._queues_text)
        self.assertIn("webuser1 1", queues)

        # a new password from the page (window.prompt): the old one stops working
        yield self.in_browser(self._click_and_answer, "passwd-webuser1", "a new password here",
                              "password changed for webuser1")
        result = yield self.login_ok("webuser1", "from the browser")
        self.assertFalse(result.ok)
        result = yield self.login_ok("webuser1", "a new password here")
        self.assertTrue(result.ok)

        yield self.in_browser(self._click, "registration-toggle", "client sign-up opened")
        self.assertTrue(self.service.getServiceNamed("login-tcp").factory.registration_open)

        login_modulus, fingerprint, command = yield self.in_browser(self._setup_page)
        self.assertEqual(bytes.fromhex(login_modulus), self.login_n)
        self.assertIn("--server 127.0.0.1:%d:%d:%d" % (
            self.ports["login-tcp"], self.ports["event-tcp"], self.ports["supernode-tcp"]),
            command)
        self.assertEqual(len(fingerprint), 64)

        yield self.in_browser(self._signup, "signedup1", "a long password")
        result = yield self.login_ok("signedup1", "a long password")
        self.assertTrue(result.ok)

        # delete from the dashboard (window.confirm): the account is gone
        yield self.in_browser(self._dashboard_again)
        yield self.in_browser(self._click_and_answer, "delete-webuser1", None,
                              "deleted webuser1")
        result = yield self.login_ok("webuser1", "a new password here")
        self.assertFalse(result.ok)
        self.assertIsNone((yield self.service.store.accounts.get_account("webuser1")))
