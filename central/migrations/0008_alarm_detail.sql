-- What the device said of an alarm's cause, for the rules whose events carry only device words
-- (rules::tells_detail: which card reader was tampered with or lost, and why). Nothing of a
-- patron: the other rules keep it empty.
ALTER TABLE alarms ADD COLUMN detail TEXT;
