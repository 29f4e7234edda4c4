-- Who may let themselves in at a branch, as the library decides it (JSON of
-- report::policy::EntryRules); NULL leaves each door's own [rules].
ALTER TABLE calendars ADD COLUMN entry_rules TEXT;
