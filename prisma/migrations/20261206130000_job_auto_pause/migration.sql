-- Auto-pause (issue #14, item 7): pause a job after N occurrences in a row ended in a final failure. The policy (null =
-- never) and the count of final failures in a row, which the instance that recorded an occurrence's final outcome
-- updates (a success sets it to 0) and the auto-pause's compare-and-set reads and resets.

-- AlterTable
ALTER TABLE "jobs" ADD COLUMN     "auto_pause_after_failures" INTEGER,
ADD COLUMN     "consecutive_failures" INTEGER NOT NULL DEFAULT 0;
