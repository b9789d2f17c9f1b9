"""What schemathesis cannot read from tarcza's OpenAPI document, told once, each with
why. Loaded by tests/fuzz/run (SCHEMATHESIS_HOOKS). No check is switched off: the hooks
teach the fuzzer the one format JSON Schema cannot spell, leave out the generated
requests that break a rule between two values (the document states each rule in words;
tests/api checks each of them), and drop three kinds of report that are wrong about the
request they name (the last hook, each checking that it is that case).
"""

import os
import re
import sys
from datetime import datetime, timezone

import schemathesis
from hypothesis import strategies as st

# Format `phone-number`: a phone number in a spelling tarcza reads. Which digit strings
# are numbers is libphonenumber's metadata, which no pattern can carry, so the fuzzer
# draws real numbers: Polish mobile numbers (every range of the metadata's mobile type)
# in the spellings exports and dialers use, and foreign numbers from the README.
_POLISH_MOBILE = st.from_regex(r"\A(45|5[0137]|6[069]|7[2389]|88)[0-9]{7}\Z")


def _spellings(digits: str) -> st.SearchStrategy[str]:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return st.sampled_from(
        [
            digits,
            f"+48{digits}",
            f"+48 {a} {b} {c}",
            f"0048{digits}",
            f"48{digits}",
            f"{a}-{b}-{c}",
            f"({a}) {b} {c}",
            f"tel:+48-{a}-{b}-{c}",
            f"{a}\u00a0{b}\u00a0{c}",
            f"+48 {a} {b} {c} wew. 12",
        ]
    )


_FOREIGN = st.sampled_from(["+44 20 7946 0958", "+43 1 234567", "+7 800 123-45-67"])

schemathesis.openapi.format(
    "phone-number", st.one_of(_POLISH_MOBILE.flatmap(_spellings), _FOREIGN)
)

# Format `phone-prefix`: the start of a number in international form. Whether digits
# start some valid number is the metadata's again, so prefixes are cut from real numbers.
_PREFIX = st.tuples(_POLISH_MOBILE, st.integers(min_value=1, max_value=8)).flatmap(
    lambda t: st.sampled_from([f"+48{t[0][: t[1]]}", f"+48 {t[0][: t[1]]}", f"0048{t[0][: t[1]]}"])
)
schemathesis.openapi.format("phone-prefix", _PREFIX)


def _parse_time(value):
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


# The rules below are filters of whole cases (`filter_case`): unlike filters of one part,
# they also apply to the cases the coverage phase builds.


@schemathesis.hook("filter_case").apply_to(method="POST", path="/v1/dnc")
def expiry_in_the_future(ctx, case):
    # `expires_at` must be in the future (422 invalid_expires_at otherwise): a rule
    # against the clock, which a schema cannot state. Bodies with a past time are left
    # to tests/api/dnc.rs. (That exactly one of `number` and `prefix` is given, the
    # schema says itself: see dnc::document_add_request.)
    if not isinstance(case.body, dict):
        return True
    at = _parse_time(case.body.get("expires_at"))
    return at is None or at.tzinfo is None or at > datetime.now(timezone.utc)


@schemathesis.hook("filter_case").apply_to(method="GET", path="/v1/dnc")
def list_rules_between_parameters(ctx, case):
    # Without `number` and `prefix` the request is the list (filtered, paged), so any of
    # the parameters may be left out. What the schema cannot state are the rules between
    # two of them: not both `number` and `prefix` (400 missing_number), no `limit` with
    # `format=csv` (422 invalid_parameter; the CSV holds every match), `from` not after
    # `to` (422 invalid_range).
    query = case.query if isinstance(case.query, dict) else {}
    if query.get("number") is not None and query.get("prefix") is not None:
        return False
    if query.get("format") == "csv" and query.get("limit") is not None:
        return False
    return from_before_to(ctx, case)


@schemathesis.hook("filter_case").apply_to(method="GET", path="/v1/consents")
def number_or_client_asked(ctx, case):
    # `?number=`, `?client=` or both (400 missing_number without either).
    query = case.query if isinstance(case.query, dict) else {}
    return query.get("number") is not None or query.get("client") is not None


@schemathesis.hook("filter_case").apply_to(method="POST", path="/v1/consents")
def consent_dates_in_order(ctx, case):
    # `given_at` not in the future (5 minutes of skew allowed), `expires_at` after it and
    # in the future: rules against the clock and between two fields (422
    # invalid_given_at / invalid_expires_at). Left to tests/api/consents.rs.
    if not isinstance(case.body, dict):
        return True
    now = datetime.now(timezone.utc)
    given = _parse_time(case.body.get("given_at"))
    ends = _parse_time(case.body.get("expires_at"))
    if given is not None and given.tzinfo is not None and given > now:
        return False
    if ends is not None and ends.tzinfo is not None:
        if ends <= now or (given is not None and given.tzinfo is not None and ends <= given):
            return False
    return True


@schemathesis.hook("filter_case").apply_to(method="POST", path="/v1/registries/{name}/imports")
def hash_scheme_only_with_sha256(ctx, case):
    # `hash_scheme` applies to `format=sha256` only (422 invalid_parameter otherwise): a
    # rule between two parameters, which OpenAPI parameters cannot state.
    query = case.query if isinstance(case.query, dict) else {}
    return query.get("hash_scheme") is None or query.get("format") == "sha256"


@schemathesis.hook("filter_case").apply_to(method="GET", path="/v1/audit")
def audit_from_before_to(ctx, case):
    return from_before_to(ctx, case)


def from_before_to(ctx, case):
    # `from` may not be after `to` (422 invalid_range): a rule between two parameters.
    query = case.query if isinstance(case.query, dict) else {}
    start, end = _parse_time(query.get("from")), _parse_time(query.get("to"))
    if start is None or end is None or start.tzinfo is None or end.tzinfo is None:
        return True
    return start <= end


# The server's history starts when it does (tests/fuzz/run starts it before loading
# these hooks): an earlier instant is `422 history_unavailable`, a later one than now
# `422 invalid_at`, rules against the clock.
_HOOKS_LOADED = datetime.now(timezone.utc)


@schemathesis.hook("filter_case").apply_to(method="GET", path="/v1/history")
def history_instant_kept_and_scope_with_it(ctx, case):
    # `at` within the history kept (see above); `client`/`campaign` only with `at` (400
    # invalid_query): a rule between parameters.
    query = case.query if isinstance(case.query, dict) else {}
    at = _parse_time(query.get("at"))
    if at is None:
        return query.get("client") is None and query.get("campaign") is None
    if at.tzinfo is None:
        return True
    return _HOOKS_LOADED <= at <= datetime.now(timezone.utc)


@schemathesis.hook("filter_case").apply_to(method="GET", path="/v1/changes")
def short_waits(ctx, case):
    # A long poll may wait up to 60 s when nothing is new, as documented; schemathesis
    # gives up on an answer after 10 s, so waits over 5 s are left to tests/api/changes.rs.
    query = case.query if isinstance(case.query, dict) else {}
    wait = query.get("wait")
    if not isinstance(wait, str):
        return True
    found = re.fullmatch(r"([0-9]+)(ms|s|m|h|d)?", wait)
    if not found:
        return True
    n, unit = int(found.group(1)), found.group(2) or "s"
    seconds = n / 1000 if unit == "ms" else n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return seconds <= 5


@schemathesis.hook("filter_case").apply_to(method="DELETE", path="/v1/keys/{id}")
def not_the_fuzzers_own_key(ctx, case):
    # A fuzzer that revokes the key it runs with tests nothing after: its own key (made
    # by tests/fuzz/run, FUZZ_KEY_ID) is left alone; every other id may be revoked.
    params = case.path_parameters if isinstance(case.path_parameters, dict) else {}
    return str(params.get("id")) != os.environ.get("FUZZ_KEY_ID")


# Failures schemathesis reports about requests that do not show what it says.

_FORMAT_NEGATION = re.compile(r"violates `format` at (?:/allOf/\d+)?/properties/(\w+)")


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    keep = _is_real(failure, case, response)
    if not keep:
        # Said, so a run shows what it dropped.
        print(f"dropped {failure.code} on {case.operation.label}: {case.body!r:.120}", file=sys.stderr)
    return keep


def _is_real(failure, case, response):
    # 1. "Schema-violating request accepted" for a `null` in a property whose type allows
    #    null (`expires_at: null` reported as violating `format: date-time`): `format`
    #    applies to strings only, so the request was valid and accepting it is right.
    if failure.code == "ST201" and isinstance(case.body, dict):
        found = _FORMAT_NEGATION.search(failure.message or "")
        if found and found.group(1) in case.body and case.body[found.group(1)] is None:
            return False
    # 2. "Deleted resource still available" after DELETE /v1/dnc/{id}: that DELETE
    #    deactivates an entry and never erases it (DESIGN.md); GET shows it with
    #    `active: false`, which is checked here.
    if failure.code == "ST301" and case.operation.path == "/v1/dnc/{id}":
        try:
            return response.json().get("active") is not False
        except ValueError:
            return True
    # 3. The same after DELETE /v1/consents/{id}: a withdrawal keeps the consent, shown
    #    with `withdrawn_at` set and `valid: false`.
    if failure.code == "ST301" and case.operation.path == "/v1/consents/{id}":
        try:
            body = response.json()
            return body.get("withdrawn_at") is None or body.get("valid") is not False
        except ValueError:
            return True
    # 4. The same after DELETE /v1/webhooks/{id}: a deleted subscription keeps its row
    #    (audited, its attempts still readable), shown with `state: deleted` and
    #    `deleted_at` set, alone or above its attempts; nothing more is delivered and its
    #    secret is forgotten.
    if failure.code == "ST301" and case.operation.path.startswith("/v1/webhooks/{id}"):
        try:
            body = response.json()
            hook = body.get("webhook", body)
            return hook.get("state") != "deleted" or hook.get("deleted_at") is None
        except ValueError:
            return True
    return True
