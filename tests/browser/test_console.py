"""The web console in a real browser (headless Chromium), against a real `tarcza serve`.

Covers issue 12 point 5: sign-in and sign-out; an agent blocks a number and the lookup
shows it blocked with its reason; an admin unblocks it with a reason and the audit page
shows both; an ops user uploads a CSV and sees the progress and the result with rejects;
a dialer key cannot reach the block form; a cross-site POST is refused; the phone-width
layout has no horizontal scroll. Each page is saved as a screenshot."""

import http.server
import re
import threading
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import ADMIN_KEY


def test_sign_in_and_sign_out(browser):
    b = browser
    b.go("/")
    b.wait_url("/login")
    assert b.label_for("key") == "API key"
    assert b.find("form[action='/login'] button").text == "Sign in"
    b.shot("login")

    b.fill("key", "tz_not_a_key_at_all_000000")
    b.find("form[action='/login'] button").click()
    b.wait_text(".alert.error", "not known")
    assert "/login" in b.d.current_url

    b.sign_in(ADMIN_KEY)
    assert b.d.current_url.endswith("/overview")
    nav = b.find("header.top nav").text
    for page in ["Overview", "Lookup", "Block a number", "Do-not-call list", "Registries", "Audit", "Keys"]:
        assert page in nav
    cookies = {c["name"]: c for c in b.d.get_cookies()}
    session = cookies["tarcza_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    # The cookie is not readable by scripts.
    assert "tarcza_session" not in b.d.execute_script("return document.cookie")

    b.find("form.logout button").click()
    b.wait_text(".alert.info", "You have signed out.")
    b.go("/lookup")
    b.wait_url("/login")
    # The old session id no longer opens anything, even when sent again.
    b.d.add_cookie({"name": "tarcza_session", "value": session["value"], "path": "/"})
    b.go("/lookup")
    b.wait_url("/login")


def test_an_agent_blocks_a_number_and_the_lookup_shows_it_blocked_with_its_reason(browser, server):
    b = browser
    agent = server.key("agent", "agent-anna")
    b.sign_in(agent)
    assert b.d.current_url.endswith("/lookup")
    nav = b.find("header.top nav").text
    assert "Block a number" in nav and "Keys" not in nav and "Audit" not in nav

    b.find("header.top nav a[href='/block']").click()
    b.wait("#reason")
    for field, label in [("number", "Number"), ("reason", "Reason"), ("client", "Client"),
                         ("campaign", "Campaign"), ("expires_at", "Expires at (UTC)")]:
        assert b.label_for(field) == label
    b.fill("number", "601 234 561")
    b.fill("reason", "said stop on call 4711")
    b.find("form[action='/block'] button[type=submit]").click()
    b.wait_text(".alert.ok", "Blocked +48601234561")
    assert b.find(".verdict").text.upper().count("DO NOT CALL") == 1
    b.shot("block-result")

    b.find("header.top nav a[href='/lookup']").click()
    b.wait("form[action='/lookup'] #number")
    for field, label in [("number", "Number"), ("client", "Client"), ("campaign", "Campaign")]:
        assert b.label_for(field) == label
    b.fill("number", "0048 601-234-561")
    b.fill("client", "acme")
    b.find("form[action='/lookup'] button").click()
    b.wait(".verdict.blocked")
    verdict = b.find(".verdict").text
    assert "+48601234561" in verdict and "DO NOT CALL" in verdict.upper()
    reasons = b.find("ul.reasons").text
    assert "said stop on call 4711" in reasons
    assert "added by agent-anna" in reasons
    assert "global" in reasons
    b.shot("lookup-blocked")

    # A number nobody blocked may be called.
    b.fill("number", "601 234 569")
    b.fill("client", "")
    b.find("form[action='/lookup'] button").click()
    b.wait(".verdict.allowed")
    assert "MAY BE CALLED" in b.find(".verdict").text.upper()


def test_an_admin_unblocks_with_a_reason_and_the_audit_page_shows_both(browser, server):
    b = browser
    agent = server.key("agent", "agent-bruno")
    status, entry = server.api("POST", "/v1/dnc", agent, {"number": "601234562", "reason": "asked twice"})
    assert status == 201, entry

    b.sign_in(ADMIN_KEY)
    b.go("/lookup?number=601234562")
    b.wait(".verdict.blocked")
    b.find(f"a[href='/unblock/{entry['id']}']").click()
    b.wait("#reason")
    assert "Reason for unblocking" in b.label_for("reason")
    assert b.find("#confirm").get_attribute("required") is not None
    b.shot("unblock")
    b.fill("reason", "customer gave consent in writing")
    b.find("#confirm").click()
    b.find(f"form[action='/unblock/{entry['id']}'] button[type=submit]").click()
    b.wait_text(".alert.ok", f"Removed entry #{entry['id']}")
    assert "MAY BE CALLED" in b.find(".verdict").text.upper()

    b.find("header.top nav a[href='/audit']").click()
    b.wait("#action")
    b.fill("number", "601 234 562")
    b.find("form[action='/audit'] button").click()
    rows = b.texts_when("table.events tbody tr", lambda rows: rows and all("+48601234562" in r for r in rows))
    assert len(rows) == 2, rows
    assert "Unblocked" in rows[0] and "bootstrap-admin" in rows[0] and "customer gave consent in writing" in rows[0]
    assert "Blocked" in rows[1] and "agent-bruno" in rows[1] and "asked twice" in rows[1]
    b.shot("audit")

    # Filtered by action and actor.
    Select(b.find("#action")).select_by_value("dnc.remove")
    b.fill("number", "")
    b.fill("actor", "bootstrap-admin")
    b.find("form[action='/audit'] button").click()
    WebDriverWait(b.d, 20).until(lambda d: "action=dnc.remove" in d.current_url)
    # (The address changes before the answer is swapped in: wait for the answer.)
    rows = b.texts_when("table.events tbody tr", lambda rows: rows and all("Unblocked" in r for r in rows))
    assert all("bootstrap-admin" in r for r in rows), rows


def write_csv(path, rows, bad=()):
    lines = ["phone"] + [f"+48 7{n:08d}" for n in range(rows)] + list(bad)
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_ops_user_uploads_a_csv_and_sees_progress_and_the_result_with_rejects(browser, server):
    b = browser
    ops = server.key("ops", "ops-olga")
    b.sign_in(ops)
    assert b.d.current_url.endswith("/overview")
    b.find("header.top nav a[href='/registries']").click()
    b.wait("#file")
    for field, label in [("file", "File"), ("mode", "Mode"), ("format", "Format"), ("encoding", "Encoding")]:
        assert b.label_for(field) == label

    big = write_csv(server.workdir / "robinson.csv", 200_000, bad=["not a number", "+48 12"])
    # Record every byte-progress value the page shows while the file goes up.
    b.d.execute_script(
        "window.seen = [];"
        "new MutationObserver(function () { window.seen.push(document.getElementById('upload-bytes').value); })"
        ".observe(document.getElementById('upload-bytes'), {attributes: true});"
        "setInterval(function () { var p = document.getElementById('upload-bytes'); window.seen.push(p.value); }, 20);"
    )
    b.find("#file").send_keys(str(big))
    Select(b.find("#mode")).select_by_value("snapshot")
    b.find("form[data-upload] button[type=submit]").click()
    b.wait("#upload-status")
    b.wait("#import-result[data-status='succeeded']", timeout=120)
    b.shot("registries-upload")
    size = big.stat().st_size
    assert float(b.find("#upload-bytes").get_attribute("value")) == size
    assert float(b.find("#upload-bytes").get_attribute("max")) == size
    assert "of" in b.find("#upload-bytes-text").text
    assert b.find("#rows-accepted").text.replace("\u202f", "") == "200000"
    assert b.find("#rows-rejected").text == "2"
    rejects = b.find("table.rejects").text
    assert "not a number" in rejects and "+48 12" in rejects
    assert "200002" in rejects or "200003" in rejects  # physical line numbers of the bad rows
    seen = b.d.execute_script("return window.seen")
    assert any(0 < float(v) for v in seen), "the byte progress bar moved"

    # A snapshot that would remove most entries is refused, with a force re-submit.
    small = write_csv(server.workdir / "small.csv", 10)
    b.find("#file").send_keys(str(small))
    b.find("form[data-upload] button[type=submit]").click()
    b.wait("#import-result[data-status='refused']", timeout=60)
    assert "would remove" in b.find("#upload-result").text
    b.shot("registries-refused")
    b.find("#upload-result button[data-force]").click()
    b.wait("#import-result[data-status='succeeded']", timeout=60)
    assert b.find("#rows-accepted").text == "10"

    # The card shows the registry's state and its imports.
    b.go("/registries")
    card = b.wait("article.card").text
    assert "FRESH" in card.upper() and "10" in card
    b.shot("registries")


def test_a_dialer_key_cannot_reach_the_block_form(browser, server):
    b = browser
    dialer = server.key("dialer", "dialer-1")
    b.sign_in(dialer)
    assert b.d.current_url.endswith("/lookup")
    nav = b.find("header.top nav").text
    assert nav.strip() == "Lookup"
    b.go("/block")
    b.wait_text(".alert.error", "cannot use this page")
    assert b.finds("form[action='/block']") == []
    assert b.finds("#reason") == []
    # The lookup itself works, and shows nothing that needs a higher role.
    b.go("/lookup?number=601234599")
    b.wait(".verdict.allowed")
    assert b.finds("a[href^='/block']") == []
    b.shot("dialer-lookup")


def test_a_cross_site_post_is_refused(browser, server):
    b = browser
    b.sign_in(ADMIN_KEY)
    target = server.base + "/block"
    number = "601234563"
    page = f"""<!doctype html><title>evil</title>
<form id="f" method="post" action="{target}">
<input name="number" value="{number}"><input name="reason" value="csrf">
<input name="csrf" value="guessed"><button id="go">win a prize</button></form>"""

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args):
            pass

    # Another origin on the same host: the browser sends the (SameSite=Strict) cookie,
    # since 127.0.0.1 on another port is the same site, so the Origin check must refuse.
    evil = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        b.d.get(f"http://127.0.0.1:{evil.server_address[1]}/")
        b.find("#go").click()
        b.wait_text(".alert.error", "cross-site")
        b.shot("cross-site-refused")
    finally:
        evil.shutdown()
    status, body = server.api("GET", f"/v1/dnc?number={number}")
    assert status == 200 and body["entries"] == [], body

    # From the right origin, with the session cookie but without the page's token: refused.
    cookie = b.d.get_cookie("tarcza_session")["value"]
    req = urllib.request.Request(
        target, data=f"number={number}&reason=x".encode(), method="POST",
        headers={"Cookie": f"tarcza_session={cookie}", "Origin": server.base,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 403
    assert "expired or does not belong to your session" in refused.value.read().decode()
    status, body = server.api("GET", f"/v1/dnc?number={number}")
    assert body["entries"] == [], body


def test_keys_are_created_shown_once_copied_and_revoked_which_ends_their_sessions(browser, server):
    b = browser
    b.sign_in(ADMIN_KEY)
    b.find("header.top nav a[href='/keys']").click()
    b.wait("#name")
    b.fill("name", "agent-celina")
    Select(b.find("#role")).select_by_value("agent")
    b.find("form[action='/keys'] button[type=submit]").click()
    secret = b.wait("#new-key").text
    assert secret.startswith("tz_")
    copy = b.find("button[data-copy='new-key']")
    copy.click()
    WebDriverWait(b.d, 5).until(lambda d: copy.text == "Copied")
    b.shot("keys")

    # Revoking from the page asks first, then the key is listed as revoked.
    b.fill("name", "temporary")
    b.find("form[action='/keys'] button[type=submit]").click()
    b.wait_text(".alert.ok", "temporary")
    row = b.find_with("table.cards tbody tr", "temporary")
    row.find_element(By.CSS_SELECTOR, "button.danger").click()
    alert = WebDriverWait(b.d, 5).until(lambda d: d.switch_to.alert)
    assert "temporary" in alert.text
    alert.accept()
    b.wait_text(".alert.ok", "Revoked the key")
    row = next(r for r in b.finds("table.cards tbody tr") if "temporary" in r.text)
    assert "REVOKED" in row.text.upper()
    assert b.console_errors() == []

    # The new key signs in (in a second browser context: a fresh session cookie).
    b.d.delete_all_cookies()
    b.sign_in(secret)
    assert b.d.current_url.endswith("/lookup")
    agent_cookie = b.d.get_cookie("tarcza_session")["value"]
    # Revoked through the API: the open session ends at once.
    status, keys = server.api("GET", "/v1/keys")
    key_id = next(k["id"] for k in keys["keys"] if k["name"] == "agent-celina")
    assert server.api("DELETE", f"/v1/keys/{key_id}")[0] == 200
    b.go("/lookup")
    b.wait_text(".alert.info", "revoked")
    b.d.add_cookie({"name": "tarcza_session", "value": agent_cookie, "path": "/"})
    b.go("/block")
    b.wait_url("/login")


def test_an_admin_binds_a_key_to_a_client_and_the_list_shows_the_binding(browser, server):
    b = browser
    b.sign_in(ADMIN_KEY)
    b.go("/keys")
    b.wait("#client")
    assert b.label_for("client") == "Client (binds the key)"
    # An ops key acts for every client: binding one is refused on the page, as the API
    # refuses it; the form keeps what was typed and nothing is created.
    b.fill("name", "ops-acme")
    Select(b.find("#role")).select_by_value("ops")
    b.fill("client", "acme")
    b.find("form[action='/keys'] button[type=submit]").click()
    b.wait_text(".alert.error", "Only a dialer or an agent key can be bound to a client")
    assert b.find("#client").get_attribute("value") == "acme"
    status, keys = server.api("GET", "/v1/keys")
    assert all(k["name"] != "ops-acme" for k in keys["keys"]), keys
    # The browser logs the refusal's 422 as a failed load; nothing else.
    assert all("status of 422" in e for e in b.console_errors())

    # An agent bound to acme and two of its campaigns.
    b.fill("name", "acme-crm")
    Select(b.find("#role")).select_by_value("agent")
    b.fill("campaigns", "summer\nwinter")
    b.find("form[action='/keys'] button[type=submit]").click()
    b.wait_text(".alert.ok", "bound to client acme")
    row = b.find_with("table.cards tbody tr", "acme-crm")
    bound = row.find_element(By.CSS_SELECTOR, "td[data-label='Bound to']").text
    assert "acme" in bound and "campaigns: summer, winter" in bound, bound
    admin = b.find_with("table.cards tbody tr", "bootstrap-admin")
    assert "every client" in admin.find_element(By.CSS_SELECTOR, "td[data-label='Bound to']").text
    assert b.console_errors() == []
    b.full_shot("keys-binding")
    status, keys = server.api("GET", "/v1/keys")
    key = next(k for k in keys["keys"] if k["name"] == "acme-crm")
    assert (key["role"], key["client"], key["campaigns"]) == ("agent", "acme", ["summer", "winter"])


def test_polish_is_complete_on_the_pages(browser, server):
    b = browser
    b.sign_in(ADMIN_KEY)
    b.find("header.top a.lang").click()
    b.wait_text("header.top nav", "Sprawdź numer")
    assert b.find("html").get_attribute("lang") == "pl"
    b.go("/lookup?number=601234599")
    b.wait(".verdict.allowed")
    assert "MOŻNA DZWONIĆ" in b.find(".verdict").text.upper()
    assert b.label_for("number") == "Numer"
    b.shot("lookup-pl")
    b.go("/lookup?number=not+a+number")
    b.wait_text(".alert.error", "To nie jest numer telefonu")
    b.find("header.top a.lang").click()
    b.wait_text("header.top nav", "Lookup")


PAGES = ["/overview", "/lookup?number=601234561", "/block", "/dnc", "/registries", "/audit", "/keys"]


def test_every_page_fits_a_phone_without_horizontal_scroll(browser, server):
    b = browser
    server.api("POST", "/v1/dnc", body={
        "number": "601234564", "client": "a-client-with-a-rather-long-name",
        "campaign": "spring-campaign-2026", "reason": "a long reason " * 6})
    server.api("POST", "/v1/dnc", body={"number": "601234565", "reason": "for the chart"})
    server.api("POST", "/v1/dnc", body={"prefix": "+48 70", "reason": "premium-rate range"})
    b.sign_in(ADMIN_KEY)
    # Some traffic for the chart.
    for n in ["601234561", "601234564", "601234565"]:
        server.api("GET", f"/v1/check?number={n}")
    b.go("/overview")
    b.wait("figure.chart svg")
    summary = re.search(r"In the last 24 hours: (\d+) checks, (\d+) blocked", b.find("main").text)
    assert summary and int(summary.group(1)) >= 3 and int(summary.group(2)) >= 1, b.find("main").text
    assert len(b.finds("figure.chart polyline.series")) >= 3
    b.full_shot("overview")
    b.go("/dnc")
    b.wait("table.cards")
    assert "+4870… PREFIX" in b.find("table.cards").text.upper()
    b.shot("dnc-list")
    # A number under a prefix entry: the reason names the prefix.
    b.go("/lookup?number=701234567")
    b.wait(".verdict.blocked")
    assert "every number starting with +4870" in b.find("ul.reasons").text
    b.shot("lookup-prefix")
    # htmx is loaded from the binary and running (the CSP lets nothing else run).
    assert b.d.execute_script("return window.htmx && htmx.version") == "2.0.11"
    b.phone()
    for path in PAGES + ["/login"]:
        b.go(path)
        b.wait("main")
        width, client = b.no_horizontal_scroll()
        name = "phone-" + path.strip("/").split("?")[0]
        b.shot(name)
        assert width <= client, f"{path}: scrollWidth {width} > clientWidth {client}"
        assert b.unlabelled_fields() == [], path
    assert b.console_errors() == []


def test_the_console_works_from_the_keyboard(browser, server):
    b = browser
    server.api("POST", "/v1/dnc", body={"number": "601234566", "reason": "keyboard test"})
    b.go("/login")
    b.wait("#key")
    # The key field has the focus; typing and Enter signs in.
    active = b.d.switch_to.active_element
    assert active.get_attribute("id") == "key"
    active.send_keys(ADMIN_KEY + Keys.ENTER)
    WebDriverWait(b.d, 20).until(lambda d: "/overview" in d.current_url)
    b.go("/lookup")
    b.wait("#number")
    active = b.d.switch_to.active_element
    assert active.get_attribute("id") == "number"
    active.send_keys("601 234 566" + Keys.ENTER)
    b.wait(".verdict.blocked")
    assert "keyboard test" in b.find("ul.reasons").text
    # Tab reaches the navigation from the start of the page (skip link first).
    b.find("body").send_keys(Keys.TAB)
    assert b.d.switch_to.active_element.get_attribute("class") == "skip"
