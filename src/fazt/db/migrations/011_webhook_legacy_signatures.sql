-- A webhook that also accepts fazt v0.9's signature: X-Webhook-Signature: <hex HMAC-SHA256
-- of the body>, without a timestamp, so without replay protection. Set for webhooks
-- created with v0.9's fields, or asked for with "legacy_signatures": true.
ALTER TABLE webhooks ADD COLUMN legacy_signatures INTEGER NOT NULL DEFAULT 0;
