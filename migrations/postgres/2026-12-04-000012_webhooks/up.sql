-- Webhooks (where the person wants to be told what happened) and each delivery to one of
-- them, written before it is sent. `seq` orders a webhook's deliveries: they are sent in it.
CREATE TABLE webhooks (
    id UUID PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT,
    events TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE webhook_deliveries (
    seq BIGSERIAL PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    webhook_id UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    notification_id UUID NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    last_attempt_at TIMESTAMPTZ,
    next_attempt_at TIMESTAMPTZ,
    response_status INTEGER,
    error TEXT
);

CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, status, seq);
