-- The staff's accounts, sessions and audit log; alarms and their deliveries. Same rules as 0001:
-- BIGINT and TEXT only, times in Unix milliseconds, ids as lowercase hex.

-- A staff member's account. Passwords as argon2id PHC strings; never the password.
CREATE TABLE staff (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- Wrong passwords since the last right one, and until when the account refuses every one.
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    disabled BIGINT NOT NULL DEFAULT 0
);

-- A signed-in browser. The cookie holds the token; the database holds only its SHA-256.
CREATE TABLE sessions (
    token_sha256 TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES staff (username),
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    lang TEXT NOT NULL DEFAULT 'fi'
);

-- Every staff action, and every sign-in refused.
CREATE TABLE audit (
    audit_id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    username TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    peer TEXT
);
CREATE INDEX audit_by_time ON audit (at);

-- An alarm: a rule that fired for a device. One per event that raised it (the id is made from
-- the device, the rule and the event, so a replayed event raises nothing new).
CREATE TABLE alarms (
    alarm_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    rule TEXT NOT NULL,
    raised_at BIGINT NOT NULL,
    summary TEXT NOT NULL,
    cleared_at BIGINT,
    acked_at BIGINT,
    acked_by TEXT,
    note TEXT
);
CREATE INDEX alarms_by_time ON alarms (raised_at);
CREATE INDEX alarms_by_device_and_rule ON alarms (device_id, rule);

-- Each alarm to each recipient: tried until sent or given up, every try recorded here.
CREATE TABLE deliveries (
    delivery_id TEXT PRIMARY KEY,
    alarm_id TEXT NOT NULL REFERENCES alarms (alarm_id),
    recipient TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
