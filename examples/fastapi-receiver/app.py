"""
A receiver for Cronplane's http jobs: verifies every delivery with the official Standard Webhooks library and
applies each occurrence exactly once, however many times Cronplane delivers it (a retry, a takeover after an
instance died, a frozen instance that woke up) and however many uvicorn worker processes share the requests.

    CRONPLANE_SIGNING_SECRETS=whsec_... uvicorn app:app --workers 4 --host 127.0.0.1 --port 8000

Environment:
    CRONPLANE_SIGNING_SECRETS  The job's signing secret (whsec_...), or several separated by spaces or commas
                               (the old and the new one while a rotation is under way): a delivery is accepted
                               when one of them verifies it. Required.
    RECEIVER_DB                The SQLite file the workers share (default: receiver.sqlite3 in the working
                               directory). Created with its tables on start.

Routes:
    GET /health        200 {"ok": true, "pid": ...}: this worker is up.
    GET /occurrences   The applied occurrences, oldest first (one row per webhook-id, with its delivery count).
    GET /deliveries    Every request that reached a delivery route and how it ended (applied, duplicate, rejected).
    anything else      A delivery, any path and method an http job may use (POST /hooks/nightly, GET /, ...):
                       401 {"applied": false, "error": ...} unless signed; 200 {"applied": true} the first time an
                       occurrence arrives; 200 {"applied": false, "duplicate": true} to every repeat of it.
                       ?answer_after_ms=N (0-120000): answer N ms after the occurrence was recorded, a slow target
                       (the tests use it for calls longer than Cronplane's lease renewal).

Only the webhook-* headers and the body are covered by the signature. The Cronplane-* headers are recorded for
information; the occurrence's identity is the signed webhook-id.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

DELIVERY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
# How long a worker waits for another worker's write to finish before giving up (SQLite's busy timeout).
BUSY_TIMEOUT_SECONDS = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS occurrences (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id    TEXT NOT NULL,
    job_id        TEXT,
    job_name      TEXT,
    scheduled_for TEXT,
    attempt       INTEGER,
    trigger       TEXT,
    run_id        TEXT,
    received_at   TEXT NOT NULL,
    worker_pid    INTEGER NOT NULL,
    deliveries    INTEGER NOT NULL DEFAULT 1,
    -- The guard: a second insert of one occurrence fails, in whichever worker process it happens.
    CONSTRAINT occurrences_webhook_id_unique UNIQUE (webhook_id)
);
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at     TEXT NOT NULL,
    worker_pid      INTEGER NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    webhook_id      TEXT,
    idempotency_key TEXT,
    run_id          TEXT,
    attempt         INTEGER,
    trigger         TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('applied', 'duplicate', 'rejected')),
    reason          TEXT
);
"""


def load_secrets() -> list[Webhook]:
    raw = os.environ.get("CRONPLANE_SIGNING_SECRETS", "")
    secrets = [s for s in re.split(r"[\s,]+", raw) if s]
    if not secrets:
        raise RuntimeError("CRONPLANE_SIGNING_SECRETS is not set: give the job's signing secret (whsec_...)")
    for secret in secrets:
        if not secret.startswith("whsec_"):
            raise RuntimeError("CRONPLANE_SIGNING_SECRETS: each secret starts with whsec_ (copy it whole from Cronplane)")
    return [Webhook(secret) for secret in secrets]


# Read at start-up (lifespan): a missing or malformed secret fails the start, which stops uvicorn's parent process
# too, rather than a worker that dies on import and is restarted over and over.
WEBHOOKS: list[Webhook] = []
DB_PATH = os.environ.get("RECEIVER_DB") or "receiver.sqlite3"


def connect() -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions, each one below is explicit. timeout= is the busy timeout.
    conn = sqlite3.connect(DB_PATH, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def create_schema() -> None:
    conn = connect()
    try:
        # WAL: readers never block the writer and the writer never blocks readers; one writer at a time across
        # all the worker processes, the others wait up to the busy timeout. The mode is stored in the file.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
    finally:
        conn.close()


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def verify(body: bytes, headers: dict[str, str]) -> str | None:
    """None when one of the secrets verifies the delivery, else the library's reason."""
    reason = "no signing secret"
    for webhook in WEBHOOKS:
        try:
            # Checks webhook-id, webhook-timestamp (at most 5 minutes off) and webhook-signature (any of its
            # space-separated entries) against the body exactly as received.
            webhook.verify(body, headers, json_parse=False)
            return None
        except WebhookVerificationError as err:
            reason = str(err)
    return reason


@dataclass
class Delivery:
    webhook_id: str
    idempotency_key: str | None
    job_id: str | None
    job_name: str | None
    scheduled_for: str | None
    attempt: int | None
    trigger: str | None
    run_id: str | None
    method: str
    path: str
    body: bytes


def int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def apply_occurrence(conn: sqlite3.Connection, delivery: Delivery) -> None:
    """The occurrence's work. It runs in the transaction that inserted the occurrence's key, so it is committed
    together with the key or not at all. Work outside this database (an e-mail, a call) belongs after the commit,
    or must itself be keyed by the webhook-id."""


def record_delivery(delivery: Delivery) -> bool:
    """Applies the occurrence if it is new. True when this delivery applied it, False for a repeat."""
    pid = os.getpid()
    received_at = now_iso()
    conn = connect()
    try:
        # IMMEDIATE: take the write lock now (waiting for other workers up to the busy timeout) rather than on the
        # first write, where a deferred transaction could fail with "database is locked" instead of waiting.
        conn.execute("BEGIN IMMEDIATE")
        try:
            try:
                conn.execute(
                    "INSERT INTO occurrences (webhook_id, job_id, job_name, scheduled_for, attempt, trigger, run_id,"
                    " received_at, worker_pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        delivery.webhook_id,
                        delivery.job_id,
                        delivery.job_name,
                        delivery.scheduled_for,
                        delivery.attempt,
                        delivery.trigger,
                        delivery.run_id,
                        received_at,
                        pid,
                    ),
                )
                applied = True
            except sqlite3.IntegrityError as err:
                if "UNIQUE" not in str(err):
                    raise
                applied = False
            if applied:
                apply_occurrence(conn, delivery)
            else:
                conn.execute("UPDATE occurrences SET deliveries = deliveries + 1 WHERE webhook_id = ?", (delivery.webhook_id,))
            conn.execute(
                "INSERT INTO deliveries (received_at, worker_pid, method, path, webhook_id, idempotency_key, run_id,"
                " attempt, trigger, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    received_at,
                    pid,
                    delivery.method,
                    delivery.path,
                    delivery.webhook_id,
                    delivery.idempotency_key,
                    delivery.run_id,
                    delivery.attempt,
                    delivery.trigger,
                    "applied" if applied else "duplicate",
                ),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return applied
    finally:
        conn.close()


def record_rejection(method: str, path: str, webhook_id: str | None, reason: str) -> None:
    conn = connect()
    try:
        conn.execute(
            "INSERT INTO deliveries (received_at, worker_pid, method, path, webhook_id, outcome, reason)"
            " VALUES (?, ?, ?, ?, ?, 'rejected', ?)",
            (now_iso(), os.getpid(), method, path, webhook_id, reason[:200]),
        )
    finally:
        conn.close()


def list_rows(table: str) -> list[dict]:
    conn = connect()
    try:
        return [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY id")]
    finally:
        conn.close()


@asynccontextmanager
async def lifespan(_app: FastAPI):
    WEBHOOKS[:] = load_secrets()
    await run_in_threadpool(create_schema)
    yield


app = FastAPI(title="Cronplane receiver", lifespan=lifespan)


@app.get("/health")
async def health() -> dict:
    return {"ok": True, "pid": os.getpid(), "secrets": len(WEBHOOKS)}


@app.get("/occurrences")
async def occurrences() -> dict:
    return {"occurrences": await run_in_threadpool(list_rows, "occurrences")}


@app.get("/deliveries")
async def deliveries() -> dict:
    return {"deliveries": await run_in_threadpool(list_rows, "deliveries")}


@app.api_route("/{path:path}", methods=DELIVERY_METHODS)
async def delivery(request: Request) -> JSONResponse:
    body = await request.body()
    headers = dict(request.headers)
    pid = os.getpid()
    reason = verify(body, headers)
    if reason is not None:
        await run_in_threadpool(record_rejection, request.method, request.url.path, headers.get("webhook-id"), reason)
        return JSONResponse({"applied": False, "error": reason, "worker_pid": pid}, status_code=401)
    job_name = headers.get("cronplane-job-name")
    received = Delivery(
        webhook_id=headers["webhook-id"],
        idempotency_key=headers.get("idempotency-key"),
        job_id=headers.get("cronplane-job-id"),
        job_name=unquote(job_name) if job_name is not None else None,
        scheduled_for=headers.get("cronplane-scheduled-for"),
        attempt=int_or_none(headers.get("cronplane-attempt")),
        trigger=headers.get("cronplane-trigger"),
        run_id=headers.get("cronplane-run-id"),
        method=request.method,
        path=request.url.path,
        body=body,
    )
    applied = await run_in_threadpool(record_delivery, received)
    # A slow target: the occurrence is recorded (and committed) first, the answer comes later, so a caller that dies
    # in between has delivered it, and its takeover's repeat is a duplicate.
    answer_after_ms = int_or_none(request.query_params.get("answer_after_ms"))
    if answer_after_ms is not None and 0 < answer_after_ms <= 120_000:
        await asyncio.sleep(answer_after_ms / 1000)
    if applied:
        return JSONResponse({"applied": True, "worker_pid": pid})
    return JSONResponse({"applied": False, "duplicate": True, "worker_pid": pid})
