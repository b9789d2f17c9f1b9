"""Fixtures for the console's browser tests: a real `tarcza serve` (the debug binary
cargo built, its embedded PostgreSQL in a temporary directory, a free port, the bootstrap
key) and headless Chromium driven by selenium through Debian's chromedriver."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "tz_browser_test_admin_key_0123456789"
SHOTS = Path(
    os.environ.get("TARCZA_SCREENSHOTS")
    or ROOT / "target" / "browser-screenshots" / time.strftime("%Y%m%d-%H%M%S")
)


def pytest_report_header(config):
    return f"console screenshots: {SHOTS}"


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"console screenshots are in {SHOTS}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, base, workdir):
        self.base = base
        self.workdir = workdir

    def api(self, method, path, key=ADMIN_KEY, body=None):
        """Calls the JSON API; returns (status, parsed body)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def key(self, role, name=None):
        status, body = self.api("POST", "/v1/keys", body={"name": name or f"test {role}", "role": role})
        assert status == 201, body
        return body["key"]


def failed(workdir, what):
    """Stops the run with the end of tarcza's log, leaving nothing behind in /tmp."""
    log = (workdir / "tarcza.log").read_text()[-3000:]
    shutil.rmtree(workdir, ignore_errors=True)
    raise RuntimeError(f"{what}: {log}")


@pytest.fixture(scope="session")
def server():
    binary = Path(os.environ.get("TARCZA_BIN") or ROOT / "target" / "debug" / "tarcza")
    assert binary.exists(), f"{binary} is missing: run cargo build first"
    workdir = Path(tempfile.mkdtemp(prefix="tarcza-browser-"))
    # As root, the embedded PostgreSQL runs as the `postgres` user, which must reach the
    # data directory inside; writable by others it would be refused (README "Run it").
    workdir.chmod(0o711)
    copy = workdir / "tarcza"
    shutil.copy2(binary, copy)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        TARCZA_BIND=f"127.0.0.1:{port}",
        TARCZA_DATA_DIR=str(workdir / "data"),
        TARCZA_BOOTSTRAP_ADMIN_KEY=ADMIN_KEY,
        TARCZA_LOG="info",
    )
    env.pop("DATABASE_URL", None)
    log = open(workdir / "tarcza.log", "wb")
    proc = subprocess.Popen([str(copy), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 90
    while True:
        if proc.poll() is not None:
            failed(workdir, "tarcza exited")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.time() > deadline:
            proc.kill()
            proc.wait()
            failed(workdir, "tarcza did not become ready")
        time.sleep(0.3)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield Server(base, workdir)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    shutil.copy2(workdir / "tarcza.log", SHOTS / "tarcza.log")
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def browser(server):
    os.environ.setdefault("SE_OFFLINE", "true")
    opts = webdriver.ChromeOptions()
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    profile = tempfile.mkdtemp(prefix="tarcza-chromium-")
    for a in [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--no-default-browser-check", "--disable-extensions",
        f"--user-data-dir={profile}", "--window-size=1280,800", "--lang=en-US",
    ]:
        opts.add_argument(a)
    # The browser's console log, to check that no page has script or CSP errors.
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(30)
    # The viewport is what matters for layout: make it exactly 1280x800.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    yield Browser(driver, server)
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Browser:
    def __init__(self, driver, server):
        self.d = driver
        self.server = server

    def go(self, path):
        self.d.get(self.server.base + path)

    def wait(self, css, timeout=20):
        return WebDriverWait(self.d, timeout).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def wait_text(self, css, text, timeout=20):
        WebDriverWait(self.d, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        return self.d.find_element(By.CSS_SELECTOR, css)

    def wait_url(self, part, timeout=20):
        WebDriverWait(self.d, timeout).until(EC.url_contains(part))

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def texts_when(self, css, ready, timeout=20):
        """The texts of the elements at `css` once `ready(texts)` holds. After a form is
        sent, the page it came from stays until htmx swaps the answer in, so waiting for an
        element that both have would read the old page (or one being replaced)."""
        texts = []

        def seen(d):
            texts[:] = [e.text for e in d.find_elements(By.CSS_SELECTOR, css)]
            return ready(texts)

        WebDriverWait(self.d, timeout, ignored_exceptions=[StaleElementReferenceException]).until(seen)
        return texts

    def find_with(self, css, text, timeout=20):
        """The first element at `css` whose text holds `text`, once there is one."""
        return WebDriverWait(self.d, timeout, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, css) if text in e.text), None)
        )

    def finds(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def text(self):
        return self.find("body").text

    def fill(self, field_id, value):
        el = self.find(f"#{field_id}")
        el.clear()
        el.send_keys(value)

    def label_for(self, field_id):
        return self.find(f"label[for='{field_id}']").text

    def sign_in(self, key):
        self.go("/login")
        self.fill("key", key)
        self.find("form[action='/login'] button[type=submit]").click()
        WebDriverWait(self.d, 20).until(lambda d: "/login" not in d.current_url)
        self.wait("main h1")

    def shot(self, name):
        self.d.save_screenshot(str(SHOTS / f"{name}.png"))

    def full_shot(self, name):
        """A screenshot of the whole page, not only the first 800 px."""
        height = self.d.execute_script("return document.documentElement.scrollHeight")
        metrics = {"width": 1280, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        self.shot(name)
        metrics["height"] = 800
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)

    def phone(self):
        self.d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
        )

    def console_errors(self):
        """Errors the pages logged in the browser's console (CSP violations, script errors,
        failed loads) since the last call."""
        return [e["message"] for e in self.d.get_log("browser") if e["level"] == "SEVERE"]

    def unlabelled_fields(self):
        """Form fields on the page without a visible <label for=…> (ids, or tag names)."""
        return self.d.execute_script("""
            return Array.from(document.querySelectorAll('input, select, textarea'))
              .filter(f => f.type !== 'hidden' && f.offsetParent !== null)
              .filter(f => {
                const l = f.id && document.querySelector('label[for="' + f.id + '"]');
                return !(l && l.offsetParent !== null && l.textContent.trim());
              })
              .map(f => f.id || f.name || f.tagName);
        """)

    def no_horizontal_scroll(self):
        return self.d.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];"
        )
