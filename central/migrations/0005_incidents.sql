-- What the library decided about each security incident (the events of a branch close together,
-- keyed by the first one's device and event id), for the GDPR's 72-hour clock. Same rules as
-- 0001: BIGINT and TEXT only, times in Unix milliseconds.
CREATE TABLE incident_assessments (
    incident_key TEXT PRIMARY KEY,
    decision TEXT NOT NULL,
    note TEXT NOT NULL,
    assessed_at BIGINT NOT NULL,
    assessed_by TEXT NOT NULL
);
