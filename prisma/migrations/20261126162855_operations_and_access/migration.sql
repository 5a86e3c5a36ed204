-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "concurrency_limit" INTEGER,
ADD COLUMN     "retry_backoff_seconds" INTEGER NOT NULL DEFAULT 10,
ADD COLUMN     "retry_max_attempts" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN     "retry_max_backoff_seconds" INTEGER NOT NULL DEFAULT 600;

-- CreateTable
CREATE TABLE "run_job_names" (
    "job_id" UUID NOT NULL,
    "job_name" TEXT NOT NULL,

    CONSTRAINT "run_job_names_pkey" PRIMARY KEY ("job_id","job_name")
);

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "username" TEXT NOT NULL,
    "username_key" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "failed_logins" INTEGER NOT NULL DEFAULT 0,
    "locked_until" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sessions" (
    "id" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "ip" TEXT,
    "user_agent" TEXT,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" TEXT,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" UUID NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "actor_name" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_type" TEXT,
    "target_id" TEXT,
    "target_name" TEXT,
    "ip" TEXT,
    "changes" JSONB,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key_key" ON "users"("username_key");

-- CreateIndex
CREATE INDEX "sessions_user_idx" ON "sessions"("user_id");

-- CreateIndex
CREATE INDEX "sessions_expires_idx" ON "sessions"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "api_tokens_newest_idx" ON "api_tokens"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "audit_newest_idx" ON "audit_log"("at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "audit_actor_newest_idx" ON "audit_log"("actor_name", "at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "audit_action_newest_idx" ON "audit_log"("action", "at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "audit_target_newest_idx" ON "audit_log"("target_type", "target_id", "at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "runs_job_status_lease_idx" ON "runs"("job_id", "status", "lease_expires_at");

-- CreateIndex
CREATE INDEX "runs_started_idx" ON "runs"("started_at", "instance_id");

-- CreateIndex
CREATE INDEX "runs_status_newest_idx" ON "runs"("status", "scheduled_for" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "runs_instance_newest_idx" ON "runs"("instance_id", "scheduled_for" DESC, "id" DESC);

-- AddForeignKey
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill (hand-written): the names existing runs were recorded under, for listRuns' jobSearch.
INSERT INTO "run_job_names" ("job_id", "job_name") SELECT DISTINCT "job_id", "job_name" FROM "runs" ON CONFLICT DO NOTHING;
