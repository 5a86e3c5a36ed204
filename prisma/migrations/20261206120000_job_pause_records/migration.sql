-- Pause records (issue #14, item 7): when a job was paused, by whom (as the audit log records actors) and an optional
-- note; set by a pause, cleared by a resume. Jobs paused before this migration keep paused_at null (not known).

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "pause_note" TEXT,
ADD COLUMN     "paused_at" TIMESTAMPTZ(3),
ADD COLUMN     "paused_by_id" TEXT,
ADD COLUMN     "paused_by_name" TEXT,
ADD COLUMN     "paused_by_type" TEXT;
