-- A patron's export or erasure asked in the console and carried out on every device (same
-- rules as 0001: BIGINT and TEXT only, times in Unix milliseconds). No card number is kept:
-- each device's keyed hashes of the card only until the device has answered.
CREATE TABLE patron_requests (
    request_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    -- Rows of the console's own about the card: erased, or found for the export.
    console_rows BIGINT NOT NULL DEFAULT 0,
    -- For an export: the console's own rows about the card, as JSON (deleted after 30 days).
    console_export TEXT,
    -- For an export, while it is kept: the card's keyed hash under a key of the console's own,
    -- so that a later erasure of the card also deletes the export.
    card_tag TEXT
);
CREATE INDEX patron_requests_by_card_tag ON patron_requests (card_tag);
CREATE INDEX patron_requests_by_time ON patron_requests (created_at);

CREATE TABLE patron_request_devices (
    request_id TEXT NOT NULL REFERENCES patron_requests (request_id),
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    command_id TEXT NOT NULL,
    -- The card's keyed hashes for this device, comma-separated, until it has answered "done".
    cards TEXT,
    PRIMARY KEY (request_id, device_id)
);
CREATE INDEX patron_request_devices_by_command ON patron_request_devices (command_id);
