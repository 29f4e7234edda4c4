-- Commands from staff to one device, signed (the envelope as hex), each with its outcome. Same
-- rules as 0001: BIGINT and TEXT only, times in Unix milliseconds.
CREATE TABLE commands (
    command_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    version BIGINT NOT NULL,
    order_code TEXT NOT NULL,
    minutes BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    envelope TEXT NOT NULL,
    delivered_at BIGINT,
    outcome TEXT,
    outcome_at BIGINT,
    detail TEXT
);
CREATE INDEX commands_by_device ON commands (device_id, created_at);
