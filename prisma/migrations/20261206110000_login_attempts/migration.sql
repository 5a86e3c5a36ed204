-- Sign-in budgets per client address (issue #13, finding 1): taken in the database before the password is checked, so
-- the limit holds for concurrent attempts and across instances (it was a map in each instance's memory).

-- CreateTable
CREATE TABLE "login_attempts" (
    "key" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "window_ends" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "login_attempts_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "login_attempts_window_ends_idx" ON "login_attempts"("window_ends");
