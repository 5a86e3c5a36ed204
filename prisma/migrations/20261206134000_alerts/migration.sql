-- Alerts (issue #14, items 2 and 3): rules on jobs, the default rules, and the outbox of alert rows. An event becomes one
-- row per channel through the unique (event_key, channel_id); every instance's scheduler claims due rows with a lease
-- (FOR UPDATE SKIP LOCKED), sends them and marks them sent. See docs/coordination.md, "Alerts exactly once".

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "alerts" JSONB NOT NULL DEFAULT '[]';

-- CreateTable
CREATE TABLE "alerts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "event_key" TEXT NOT NULL,
    "event" TEXT NOT NULL,
    "rule_key" TEXT NOT NULL,
    "channel_id" TEXT NOT NULL,
    "throttle_seconds" INTEGER NOT NULL DEFAULT 0,
    "job_id" UUID,
    "job_name" TEXT,
    "run_id" UUID,
    "run_scheduled_for" TIMESTAMPTZ(3),
    "run_status" TEXT,
    "run_attempt" INTEGER,
    "instance_id" TEXT,
    "at" TIMESTAMPTZ(3) NOT NULL,
    "title" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" TEXT,
    "next_attempt_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lease_owner" TEXT,
    "lease_expires_at" TIMESTAMPTZ(3),
    "admitted" BOOLEAN NOT NULL DEFAULT false,
    "suppressed_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "alerts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "alert_throttles" (
    "rule_key" TEXT NOT NULL,
    "job_key" TEXT NOT NULL,
    "window_ends" TIMESTAMPTZ(3) NOT NULL,
    "holder" TEXT NOT NULL,
    "suppressed" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "alert_throttles_pkey" PRIMARY KEY ("rule_key","job_key")
);

-- CreateTable
CREATE TABLE "alert_channel_days" (
    "channel_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "alert_channel_days_pkey" PRIMARY KEY ("channel_id","day")
);

-- CreateTable
CREATE TABLE "alert_settings" (
    "key" TEXT NOT NULL,
    "rules" JSONB NOT NULL DEFAULT '[]',
    "watermark" TIMESTAMPTZ(3),

    CONSTRAINT "alert_settings_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE UNIQUE INDEX "alerts_event_channel_key" ON "alerts"("event_key", "channel_id");

-- CreateIndex
CREATE INDEX "alerts_due_idx" ON "alerts"("status", "next_attempt_at");

-- CreateIndex
CREATE INDEX "alerts_newest_idx" ON "alerts"("created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "alerts_job_newest_idx" ON "alerts"("job_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "runs_job_finished_idx" ON "runs"("job_id", "finished_at");
