-- The audit log filtered by target type alone, or by target id alone (the API allows either), newest first.
-- audit_target_newest_idx (target_type, target_id, at, id) serves only the two together in keyset order.

-- CreateIndex
CREATE INDEX "audit_target_type_newest_idx" ON "audit_log"("target_type", "at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "audit_target_id_newest_idx" ON "audit_log"("target_id", "at" DESC, "id" DESC);
