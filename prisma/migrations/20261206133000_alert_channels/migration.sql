-- Alert channels (issue #14, item 1): where alerts go (webhook, Slack, e-mail). config holds the per-type settings with
-- their secret fields encrypted by the app (SECRETS_KEY); signing_secret is a webhook channel's whsec_ secret, encrypted.

-- CreateTable
CREATE TABLE "alert_channels" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "config" JSONB NOT NULL DEFAULT '{}',
    "signing_secret" TEXT,
    "daily_cap" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "alert_channels_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "alert_channels_name_key" ON "alert_channels"("name");
