-- Claims (issue #10): a claimed run is written in the same statement that moves the job's pointer, so a claim is never
-- only in an instance's memory. A 'missed' record may stand for a range of occurrences (range_end, range_count), so
-- folded occurrences leave a record. alive_since: the start of an instance's unbroken run of heartbeats, so the missed
-- policy can tell "every instance was down" from "one instance failed".

-- AlterTable
ALTER TABLE "runs" ADD COLUMN "range_end" TIMESTAMPTZ(3),
ADD COLUMN "range_count" INTEGER;

-- AlterTable
ALTER TABLE "instances" ADD COLUMN "alive_since" TIMESTAMPTZ(3);
UPDATE "instances" SET "alive_since" = "started_at";
ALTER TABLE "instances" ALTER COLUMN "alive_since" SET NOT NULL;
