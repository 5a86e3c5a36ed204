"""Schemathesis hooks for Cronplane's API (SCHEMATHESIS_HOOKS, set by tests/api/contract.test.ts).

The OpenAPI document names custom string formats for rules JSON Schema cannot state (info.description lists
them). Without a strategy Schemathesis would fill them with arbitrary text, which the API rightly refuses with a 400,
so "valid" data would not be valid. These strategies make values the handlers accept; they add no check and remove
none: data meant to be invalid is still generated from the rest of each schema. map_case below applies the two rules
across fields (retry, an http payload's secretHeaders) to data meant to be valid.
"""

import base64
import datetime
import json

import schemathesis
from hypothesis import strategies as st


def _field(low, high):
    """One cron field: *, a value, a range, a step, or a list of values."""
    value = st.integers(low, high)
    return st.one_of(
        st.just("*"),
        value.map(str),
        st.tuples(value, value).filter(lambda r: r[0] != r[1]).map(lambda r: f"{min(r)}-{max(r)}"),
        st.integers(1, max(1, high - low)).map(lambda step: f"*/{step}"),
        st.lists(value, min_size=2, max_size=4, unique=True).map(lambda vs: ",".join(map(str, sorted(vs)))),
    )


# Days of the month 1-28 exist in every month, so the expression fires whatever the month field says; only one of
# day of month and day of week is restricted at a time.
_dom_dow = st.one_of(
    st.tuples(_field(1, 28), st.just("*")),
    st.tuples(st.just("*"), _field(0, 6)),
)
_five = st.builds(
    lambda minute, hour, days, month: f"{minute} {hour} {days[0]} {month} {days[1]}",
    _field(0, 59),
    _field(0, 23),
    _dom_dow,
    _field(1, 12),
)
cron = st.one_of(_five, st.builds(lambda second, rest: f"{second} {rest}", _field(0, 59), _five))

# IANA names every runtime knows (the handlers check with Intl).
time_zone = st.sampled_from(
    [
        "UTC",
        "Etc/UTC",
        "Europe/Berlin",
        "Europe/London",
        "America/New_York",
        "America/Sao_Paulo",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Australia/Sydney",
        "Africa/Lagos",
    ]
)

_instant = st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2100, 1, 1)).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z")


def _cursor(key_and_id):
    key, item_id = key_and_id
    text = json.dumps([key, str(item_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# A page cursor as the lists make them: base64url JSON of [sort key, uuid]. An ISO instant is a valid sort key of
# both kinds of list (by name and by time).
paging_cursor = st.tuples(_instant, st.uuids()).map(_cursor)

# What the audit log's from/to take: an ISO-8601 date, or a date-time with or without an offset.
date_or_date_time = st.one_of(
    _instant,
    _instant.map(lambda text: text[:10]),
    _instant.map(lambda text: text[:19]),
    _instant.map(lambda text: text[:19] + "+02:00"),
)

# A job tag: 1-40 letters, digits (any script, astral ones included) and _ . : / -, with whitespace around that the
# handlers trim. The document's pattern says the same; generating from it is slow (every letter of Unicode is in it).
_tag_character = st.sampled_from(list("abcxyzABCXYZ0129_.:/-éßЖж漢字٣") + ["\U0001d400", "\U00020000"])
_around = st.text(alphabet=" \t\n\u00a0\u3000", max_size=2)
tag = st.builds(lambda before, text, after: before + text + after, _around, st.text(_tag_character, min_size=1, max_size=40), _around)

schemathesis.openapi.format("tag", tag)
schemathesis.openapi.format("cron", cron)
schemathesis.openapi.format("time-zone", time_zone)
schemathesis.openapi.format("paging-cursor", paging_cursor)
schemathesis.openapi.format("date-or-date-time", date_or_date_time)


# One rule across two fields, which JSON Schema cannot state and the document states in words (the job body's `retry`):
# retry.maxBackoffSeconds is at least retry.backoffSeconds (defaults 600 and 10). Data meant to be valid is made to
# follow it; data meant to be invalid is left as generated.
RETRY_DEFAULTS = {"backoffSeconds": 10, "maxBackoffSeconds": 600}


def _with_retry_rule(body):
    retry = body.get("retry")
    if not isinstance(retry, dict):
        return body
    backoff = retry.get("backoffSeconds", RETRY_DEFAULTS["backoffSeconds"])
    ceiling = retry.get("maxBackoffSeconds", RETRY_DEFAULTS["maxBackoffSeconds"])
    # Numbers: 239 or 239.0 (JSON does not tell them apart, and neither do the handlers); not booleans.
    numbers = (int, float)
    if isinstance(backoff, numbers) and isinstance(ceiling, numbers) and not isinstance(backoff, bool) and ceiling < backoff:
        return {**body, "retry": {**retry, "maxBackoffSeconds": backoff}}
    return body


# The http payload's secretHeaders names headers of the same payload (stated in its description): data meant to be
# valid keeps only the names that are among its headers (case-insensitive, as the handler compares).
def _with_secret_headers_rule(body):
    payload = body.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("secretHeaders"), list):
        return body
    headers = payload.get("headers")
    names = {name.lower() for name in headers} if isinstance(headers, dict) else set()
    kept = [name for name in payload["secretHeaders"] if isinstance(name, str) and name.lower() in names]
    return {**body, "payload": {**payload, "secretHeaders": kept}}


def _instant_of(text):
    """The instant of a date-or-date-time value as the handlers read it (a date is midnight UTC, no offset is UTC)."""
    try:
        value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)


# The run history's window (GET /api/runs, stated in its description): `to` is not before `from`. Data meant to be
# valid gets the two in order; data meant to be invalid is left as generated.
def _with_window_rule(query):
    if not isinstance(query, dict) or not isinstance(query.get("from"), str) or not isinstance(query.get("to"), str):
        return query
    start, end = _instant_of(query["from"]), _instant_of(query["to"])
    if start is not None and end is not None and end < start:
        return {**query, "from": query["to"], "to": query["from"]}
    return query


# Alert channels (the only bodies with a `config`): POST /api/channels/{id}/test sends a real alert, so the channels
# valid data makes must never reach the network. Their targets are names under .invalid (RFC 6761: never resolved),
# so a test send fails at DNS inside the app and answers 502; an e-mail channel without a host has no server at all
# (the contract test's app has no SMTP_URL).
def _with_unreachable_channel(body):
    config = body.get("config")
    if not isinstance(config, dict):
        return body
    config = dict(config)
    if "url" in config:
        config["url"] = "https://alerts.example.invalid/hook"
    if "host" in config:
        config["host"] = "smtp.example.invalid"
    return {**body, "config": config}


# Alert rules (the job body's `alerts`, the defaults' `rules`) name channels by id, and must name existing ones (stated
# in the descriptions): generated ids name none, and slowAfterSeconds goes with 'slow' (also stated in words). Data meant
# to be valid gets no rules.
def _with_alert_rules(body):
    for key in ("alerts", "rules"):
        if isinstance(body.get(key), list):
            body = {**body, key: []}
    return body


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    if isinstance(case.query, dict):
        case.query = _with_window_rule(case.query)
    if isinstance(case.body, dict):
        case.body = _with_alert_rules(_with_unreachable_channel(_with_secret_headers_rule(_with_retry_rule(case.body))))
    return case
