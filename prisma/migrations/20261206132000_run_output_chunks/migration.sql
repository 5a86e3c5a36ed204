-- Live output (issue #14, item 5): a running attempt's log lines in chunks, flushed about every 500 ms by the instance
-- that runs it, so any instance can show them. Bounded per run by the writer's limit (the store deletes the chunks that
-- fall out of it), deleted once the run's final output excerpt is written, and with the run.

-- CreateTable
CREATE TABLE "run_output_chunks" (
    "run_id" UUID NOT NULL,
    "attempt" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "run_output_chunks_pkey" PRIMARY KEY ("run_id","attempt","seq")
);

-- AddForeignKey
ALTER TABLE "run_output_chunks" ADD CONSTRAINT "run_output_chunks_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
