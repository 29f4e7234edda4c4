-- Each branch's calendar as staff keep it, and the policy bundles signed from it. Same rules as
-- 0001: BIGINT and TEXT only, times in Unix milliseconds.

-- A branch's calendar: its week (seven days of spans), what it does on each holiday, its own
-- dated exceptions (all three as JSON), and who changed it last.
CREATE TABLE calendars (
    branch TEXT PRIMARY KEY,
    time_zone TEXT NOT NULL,
    week TEXT NOT NULL,
    holidays TEXT NOT NULL,
    exceptions TEXT NOT NULL,
    last_entry_minutes BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);

-- Signed bundles (the envelope's bytes as hex), the newest few per branch.
CREATE TABLE policy_bundles (
    branch TEXT NOT NULL,
    version BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    bundle TEXT NOT NULL,
    PRIMARY KEY (branch, version)
);
