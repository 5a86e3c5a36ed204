-- Cancel (issue #14, item 4): a run's cancel request, who asked (as the audit log records actors), when and why. Set by
-- Store.cancelRun on a claimed, running or retrying run; a claimed or retrying one becomes 'cancelled' at once, a
-- running one when its owner has aborted the handler. Runs from before this migration have none.

-- AlterTable
ALTER TABLE "runs" ADD COLUMN     "cancel_at" TIMESTAMPTZ(3),
ADD COLUMN     "cancel_by_id" TEXT,
ADD COLUMN     "cancel_by_name" TEXT,
ADD COLUMN     "cancel_by_type" TEXT,
ADD COLUMN     "cancel_reason" TEXT;
