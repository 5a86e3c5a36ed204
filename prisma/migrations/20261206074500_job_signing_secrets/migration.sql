-- Signing secrets of http jobs (issue #12): one row per job, deleted with it. The secrets are encrypted by the app
-- (SECRETS_KEY), which SQL cannot do, so jobs from before this migration get theirs from the app at start-up.

-- CreateTable
CREATE TABLE "job_signing_secrets" (
    "job_id" UUID NOT NULL,
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "previous_secret" TEXT,
    "previous_until" TIMESTAMPTZ(3),

    CONSTRAINT "job_signing_secrets_pkey" PRIMARY KEY ("job_id")
);

-- AddForeignKey
ALTER TABLE "job_signing_secrets" ADD CONSTRAINT "job_signing_secrets_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
