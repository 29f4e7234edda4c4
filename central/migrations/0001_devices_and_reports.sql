-- Devices and what they report. One schema for SQLite and PostgreSQL: BIGINT and TEXT only,
-- times in Unix milliseconds, ids as lowercase hex.

-- A device as its certificate names it (CN the device, O the institution, OU the branch).
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    institution TEXT NOT NULL,
    branch TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT,
    software TEXT,
    cert_sha256 TEXT NOT NULL,
    cert_not_after BIGINT NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    -- The console's clock minus the device's when it last reported.
    clock_skew_ms BIGINT,
    -- The latest status: when the device took it, and its gauges as JSON.
    last_status_at BIGINT,
    gauges TEXT
);

-- Certificates refused although the library's CA signed them (a stolen or retired box).
CREATE TABLE revoked_certs (
    cert_sha256 TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    revoked_at BIGINT NOT NULL,
    reason TEXT
);

-- Events, each stored once: the device names it with a random id.
CREATE TABLE events (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    event_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT,
    card TEXT,
    source TEXT,
    detail TEXT,
    PRIMARY KEY (device_id, event_id)
);
CREATE INDEX events_by_device_and_time ON events (device_id, at);
CREATE INDEX events_by_kind_and_time ON events (kind, at);

-- Status snapshots, each stored once.
CREATE TABLE status_history (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    record_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    gauges TEXT NOT NULL,
    PRIMARY KEY (device_id, record_id)
);
CREATE INDEX status_by_device_and_time ON status_history (device_id, at);
