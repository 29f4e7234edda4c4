//! Items on the pad or scanned: each borrowed or returned online, else through the offline
//! queue, with its security bit switched and read back; the rows the patron sees.

use super::*;
use crate::queue::{StagedLoan, StagedReturn};

pub(super) fn date(t: NaiveDateTime) -> String {
    t.format("%-d.%-m.%Y").to_string()
}

pub(super) fn hex(uid: &[u8; 8]) -> String {
    uid.iter().map(|b| format!("{b:02X}")).collect()
}

/// The row of an item that failed, with nothing more to say.
pub(super) fn failed(item: &str, outcome: Outcome) -> Row {
    Row {
        item: item.to_owned(),
        state: RowState::Failed,
        outcome,
        ..Row::default()
    }
}

/// What the patron is told of an item the offline rules would not lend.
pub(super) fn not_lent_offline(why: &Offline) -> Outcome {
    match why {
        Offline::NotForLoan => Outcome::NotForLoan,
        _ => Outcome::OfflineNotAllowed,
    }
}

/// How a return the library system took is shown, by where the item goes next.
pub(super) fn returned(route: &ReturnRoute) -> (RowState, Outcome) {
    match route {
        ReturnRoute::Shelf => (RowState::Ok, Outcome::Returned),
        ReturnRoute::Hold => (RowState::Notice, Outcome::ReturnedForHold),
        ReturnRoute::Transfer { .. } | ReturnRoute::Staff => {
            (RowState::Notice, Outcome::ReturnedForTransfer)
        }
    }
}

/// Items whose row says they failed.
pub(super) fn failed_items(rows: &[Row]) -> HashSet<String> {
    rows.iter()
        .filter(|r| r.state == RowState::Failed)
        .map(|r| r.item.clone())
        .collect()
}

/// Whether a row still says something true of the pad's `items`: a set's "parts missing" while
/// the set is still incomplete, an unreadable tag's while it is on the pad; results stay.
pub(super) fn row_still_meant(row: &Row, items: &[PadItem]) -> bool {
    match row.outcome {
        Outcome::PartsMissing => items
            .iter()
            .any(|g| matches!(g, PadItem::Incomplete { item, .. } if *item == row.item)),
        Outcome::UnreadableTag => items
            .iter()
            .any(|g| matches!(g, PadItem::Unreadable { uid, .. } if hex(uid) == row.item)),
        _ => true,
    }
}

impl<R: Registry + Clone, P: RfidPad, Pr: ReceiptPrinter> Kiosk<R, P, Pr> {
    pub(super) fn upsert(&mut self, row: Row) {
        // A row that comes to its result is heard too (once: not again when it is shown again).
        let before = self
            .view
            .items
            .iter()
            .find(|r| r.item == row.item)
            .map(|r| r.state);
        if before != Some(row.state) {
            use crate::sounds::Cue;
            match row.state {
                RowState::Ok => self.cue(Cue::Done),
                RowState::Notice => self.cue(Cue::Notice),
                RowState::Failed => self.cue(Cue::Refused),
                RowState::Working => {}
            }
        }
        match self.view.items.iter_mut().find(|r| r.item == row.item) {
            Some(r) => *r = row,
            None => self.view.items.push(row),
        }
        self.show();
    }

    pub(super) async fn poll_pad(&mut self) {
        let Some(pad) = self.pad.as_mut() else { return };
        let inventory = match pad.inventory().await {
            Ok(t) => {
                if self.pad_error.take().is_some() {
                    tracing::info!("RFID pad answering again");
                }
                t
            }
            Err(e) => {
                if self.pad_error.is_none() {
                    tracing::error!("RFID pad: {e}");
                    self.pad_error = Some(e.to_string());
                }
                return;
            }
        };
        let now = Instant::now();
        let uids: Vec<[u8; 8]> = inventory.iter().map(|t| t.uid).collect();
        if !self
            .tags
            .inventory(now.into_std(), &uids)
            .arrived
            .is_empty()
        {
            // Things moving on the pad are a patron at work.
            self.last_activity = now;
        }
        // An item that failed can be tried again by lifting it off the pad and back.
        let failed = failed_items(&self.view.items);
        self.tags.retry_lifted(|item| failed.contains(item));
        for uid in self.tags.to_read() {
            let read = crate::tags::read(pad, uid).await;
            if let Err(e) = &read {
                // No UID in the log: a patron card's UID can be its number.
                tracing::debug!("a tag not read: {e}");
            }
            self.tags.read(uid, read);
        }
        let items = self.tags.items();
        self.view.items.retain(|r| row_still_meant(r, &items));
        for g in items {
            match g {
                PadItem::Complete { item, uids } => {
                    if self.tags.claim(&item, uids.clone()) {
                        self.item(item, uids).await;
                    }
                }
                PadItem::Incomplete { item, seen, parts } => {
                    if !self.tags.handled(&item) {
                        self.upsert(Row {
                            item,
                            state: RowState::Failed,
                            outcome: Outcome::PartsMissing,
                            note: format!("{seen}/{parts}"),
                            ..Row::default()
                        });
                    }
                }
                PadItem::Unreadable { uid, why } => {
                    let key = hex(&uid);
                    if !self.view.items.iter().any(|r| r.item == key) {
                        tracing::info!("an unreadable tag on the pad: {why}");
                        self.upsert(Row {
                            item: key,
                            state: RowState::Failed,
                            outcome: Outcome::UnreadableTag,
                            ..Row::default()
                        });
                    }
                }
            }
        }
    }

    /// Handles one item (from the pad with its tags, or scanned with none).
    pub(super) async fn item(&mut self, item: String, uids: Vec<[u8; 8]>) {
        let mode = self.session.as_ref().map_or(Mode::Borrow, |s| s.mode);
        let mut uids = uids;
        if uids.is_empty() {
            // Scanned: done once, unless it failed; its tags, if it has any on the pad, are
            // switched too (or the gate would alarm).
            let failed = self
                .view
                .items
                .iter()
                .any(|r| r.item == item && r.state == RowState::Failed);
            if self.tags.handled(&item) && !failed {
                return;
            }
            uids = self.tags.uids_of(&item);
            self.tags.reclaim(&item, uids.clone());
        }
        self.upsert(Row {
            item: item.clone(),
            state: RowState::Working,
            outcome: Outcome::Working,
            ..Row::default()
        });
        let row = match mode {
            Mode::Checkin => self.give_back(&item, &uids).await,
            _ => self.borrow(&item, &uids).await,
        };
        self.upsert(row);
    }

    /// Switches the security of `item`'s tags (off for a loan, on for a return) and reads it
    /// back; a tag that will not switch is a security event (the gate and the library system's
    /// record could disagree), with what was done about it said by the caller.
    pub(super) async fn secure(
        &mut self,
        item: &str,
        uids: &[[u8; 8]],
        on_loan: bool,
    ) -> Result<(), String> {
        let result = match self.pad.as_mut() {
            Some(pad) => crate::tags::secure(pad, self.settings.security, uids, on_loan).await,
            None => Ok(()),
        };
        if let Err(e) = &result {
            let what = if on_loan {
                "the loan was not made (or was taken back), the tag still sounds the gate"
            } else {
                "the return stands, but the item may pass the gate unnoticed: staff must secure it"
            };
            self.security_event(
                "tag-security-failed",
                Some(item),
                format!("a tag's security would not switch ({e}); {what}"),
            );
        }
        result
    }

    pub(super) async fn borrow(&mut self, item: &str, uids: &[[u8; 8]]) -> Row {
        let row = |state, outcome, due: String, note: String, title: Option<String>| Row {
            title: title.unwrap_or_default(),
            item: item.to_owned(),
            state,
            outcome,
            due,
            note,
        };
        let Some(login) = self.session.as_ref().and_then(|s| s.login.clone()) else {
            return failed(item, Outcome::PatronBlocked);
        };
        // Whether the library system may have made the loan even though we got no answer.
        let mut in_doubt = false;
        // A loan of an item with transactions still queued queues behind them, in order.
        let queued_before = self.queue.has_waiting(item);
        // The online loan, staged in doubt before its request leaves: a kiosk killed anywhere
        // between the request and the tag finds it at its next start (`crate::settle`).
        let mut intent = None;
        if let (Some(registry), false) = (&self.registry, queued_before) {
            let staged = self
                .queue
                .stage_online_loan(&login.card, item, self.today_time(), uids);
            intent = match staged {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(
                        item,
                        "loan not recorded before its request, so not made: {e}"
                    );
                    return failed(item, Outcome::NoAnswer);
                }
            };
            match tokio::time::timeout(
                self.settings.online_timeout,
                registry.checkout(&login, item),
            )
            .await
            {
                Ok(Ok(o)) if o.ok => {
                    self.view.offline = false;
                    self.remember_title(item, o.title.as_deref());
                    if let Err(e) = self.secure(item, uids, true).await {
                        // The item cannot leave unnoticed by the gate, so it is not lent.
                        tracing::warn!(item, "loan undone: {e}");
                        let undone = match &self.registry {
                            Some(r) => r.checkin(item).await.map(|o| o.ok),
                            None => Ok(false),
                        };
                        match undone {
                            Ok(true) => finish(intent, item),
                            // The library system keeps the loan for now: the return is queued.
                            _ => {
                                tracing::error!(
                                    item,
                                    "undoing the loan failed; a return is queued"
                                );
                                take_back(intent, item, self.today_time());
                            }
                        }
                        return row(
                            RowState::Failed,
                            Outcome::SecurityFailed,
                            String::new(),
                            String::new(),
                            o.title,
                        );
                    }
                    finish(intent, item);
                    let due = o.due.map(date).unwrap_or_default();
                    self.report("loan", "online");
                    if let Some(s) = self.session.as_mut() {
                        s.lines.push(ReceiptLine {
                            title: o.title.clone(),
                            item: item.to_owned(),
                            due: o.due,
                            failed: false,
                        });
                    }
                    let outcome = if o.renewed {
                        Outcome::Renewed
                    } else {
                        Outcome::Lent
                    };
                    return row(RowState::Ok, outcome, due, String::new(), o.title);
                }
                Ok(Ok(o)) => {
                    finish(intent, item);
                    self.view.offline = false;
                    self.remember_title(item, o.title.as_deref());
                    return row(
                        RowState::Failed,
                        Outcome::LibrarySaid,
                        String::new(),
                        o.message.unwrap_or_default(),
                        o.title,
                    );
                }
                Ok(Err(e)) if !e.is_offline() => {
                    tracing::error!(item, "checkout: {e}");
                    finish(intent, item);
                    return failed(item, Outcome::NoAnswer);
                }
                Ok(Err(e)) => {
                    // Refused or cut off, the request may still have been taken in.
                    in_doubt = true;
                    tracing::warn!(item, "library system offline at checkout: {e}");
                }
                Err(_) => {
                    in_doubt = true;
                    tracing::warn!(item, "library system did not answer the checkout in time");
                }
            }
        }
        if !queued_before {
            self.view.offline = true;
        }
        if !self.settings.offline.lending {
            // Not lent: nothing is queued (as before the record was staged online). A request
            // the library system did take in stays there: staff see it.
            finish(intent, item);
            return failed(item, Outcome::OfflineNotAllowed);
        }
        // What the item is, from its tags on the pad: a reference copy stays, a DVD gets the
        // DVD's period (see `offline_rules`).
        let tags: Vec<&ItemTag> = uids.iter().filter_map(|u| self.tags.tag(u)).collect();
        let o = &self.settings.offline;
        let days = match offline_rules::decide(&tags, &o.loan_days, o.untagged) {
            Offline::Lend { days, .. } => days,
            not => {
                tracing::info!(item, "not lent offline: {not:?} (from its tags)");
                finish(intent, item);
                return failed(item, not_lent_offline(&not));
            }
        };
        // This loan's own staged record does not count against the limit.
        let before = self.queue.loans_of(&login.card) - usize::from(intent.is_some());
        if before >= self.settings.offline.max_loans {
            finish(intent, item);
            return failed(item, Outcome::OfflineLimit);
        }
        let due = offline_rules::due(self.today_time().date(), days);
        let staged = match intent {
            Some(staged) => match staged.lend_offline(due) {
                Ok(()) => staged,
                Err(e) => {
                    tracing::error!(item, "offline loan not recorded, so not made: {e}");
                    take_back(Some(staged), item, self.today_time());
                    return failed(item, Outcome::NoAnswer);
                }
            },
            None => match self.queue.stage_loan(
                &login.card,
                item,
                self.today_time(),
                due,
                in_doubt,
                uids,
            ) {
                Ok(staged) => staged,
                Err(e) => {
                    tracing::error!(item, "offline loan not recorded, so not made: {e}");
                    return failed(item, Outcome::NoAnswer);
                }
            },
        };
        let id = staged.id();
        if self.secure(item, uids, true).await.is_err() {
            if let Err(e) = staged.undo(self.today_time()) {
                tracing::error!("offline queue: cannot take back record {id}: {e}");
            }
            return failed(item, Outcome::SecurityFailed);
        }
        if let Err(e) = staged.commit() {
            tracing::error!(item, "offline queue: record {id} not committed: {e}");
        }
        tracing::info!(item, id, "lent offline; queued for the library system");
        self.report("loan", "offline");
        let title = self.known_title(item);
        if let Some(s) = self.session.as_mut() {
            s.any_offline = true;
            s.lines.push(ReceiptLine {
                title: title.clone(),
                item: item.to_owned(),
                due: Some(due),
                failed: false,
            });
        }
        row(
            RowState::Notice,
            Outcome::LentOffline,
            date(due),
            String::new(),
            title,
        )
    }

    pub(super) async fn give_back(&mut self, item: &str, uids: &[[u8; 8]]) -> Row {
        let row = |state, outcome, note: String, title: Option<String>| Row {
            title: title.unwrap_or_default(),
            item: item.to_owned(),
            state,
            outcome,
            due: String::new(),
            note,
        };
        let mut in_doubt = false;
        let queued_before = self.queue.has_waiting(item);
        // The online return, staged in doubt before its request leaves (see `borrow`).
        let mut intent = None;
        if let (Some(registry), false) = (&self.registry, queued_before) {
            intent = match self.queue.stage_return(item, self.today_time(), true, uids) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::error!(
                        item,
                        "return not recorded before its request, so not made: {e}"
                    );
                    return failed(item, Outcome::NoAnswer);
                }
            };
            match tokio::time::timeout(self.settings.online_timeout, registry.checkin(item)).await {
                Ok(Ok(o)) if o.ok => {
                    self.view.offline = false;
                    self.remember_title(item, o.title.as_deref());
                    let secured = self.secure(item, uids, false).await;
                    finish_return(intent, item);
                    self.report("return", "online");
                    if let Some(s) = self.session.as_mut() {
                        s.lines.push(ReceiptLine {
                            title: o.title.clone(),
                            item: item.to_owned(),
                            due: None,
                            failed: false,
                        });
                    }
                    if secured.is_err() {
                        return row(
                            RowState::Notice,
                            Outcome::SecurityFailed,
                            String::new(),
                            o.title,
                        );
                    }
                    let (state, outcome) = returned(&o.route);
                    return row(state, outcome, String::new(), o.title);
                }
                Ok(Ok(o)) => {
                    finish_return(intent, item);
                    self.view.offline = false;
                    let words = o.message.unwrap_or_default();
                    return row(RowState::Failed, Outcome::NotReturned, words, o.title);
                }
                Ok(Err(e)) if !e.is_offline() => {
                    tracing::error!(item, "checkin: {e}");
                    finish_return(intent, item);
                    return failed(item, Outcome::NoAnswer);
                }
                Ok(Err(e)) => {
                    in_doubt = true;
                    tracing::warn!(item, "library system offline at checkin: {e}");
                }
                Err(_) => {
                    in_doubt = true;
                    tracing::warn!(item, "library system did not answer the checkin in time");
                }
            }
        }
        if !queued_before {
            self.view.offline = true;
        }
        if !self.settings.offline.returns {
            finish_return(intent, item);
            return failed(item, Outcome::NoAnswer);
        }
        let staged = match intent {
            Some(staged) => staged,
            None => match self
                .queue
                .stage_return(item, self.today_time(), in_doubt, uids)
            {
                Ok(staged) => staged,
                Err(e) => {
                    tracing::error!(item, "offline return not recorded: {e}");
                    return failed(item, Outcome::NoAnswer);
                }
            },
        };
        // A return stands whether or not the tag could be secured again.
        let secured = self.secure(item, uids, false).await;
        let id = staged.id();
        if let Err(e) = staged.commit() {
            tracing::error!(item, "offline queue: record {id} not committed: {e}");
        }
        let title = self.known_title(item);
        if secured.is_err() {
            return row(
                RowState::Notice,
                Outcome::SecurityFailed,
                String::new(),
                title,
            );
        }
        self.report("return", "offline");
        if let Some(s) = self.session.as_mut() {
            s.any_offline = true;
            s.lines.push(ReceiptLine {
                title: title.clone(),
                item: item.to_owned(),
                due: None,
                failed: false,
            });
        }
        row(
            RowState::Notice,
            Outcome::ReturnedOffline,
            String::new(),
            title,
        )
    }
}

/// The library system answered an online loan: its staged record goes.
fn finish(intent: Option<StagedLoan>, item: &str) {
    if let Some(i) = intent
        && let Err(e) = i.done()
    {
        tracing::error!(
            item,
            "offline queue: an answered loan's record not removed: {e}"
        );
    }
}

/// An online loan that may have reached the library system is not made: taken back.
fn take_back(intent: Option<StagedLoan>, item: &str, at: NaiveDateTime) {
    if let Some(i) = intent
        && let Err(e) = i.undo(at)
    {
        tracing::error!(item, "offline queue: a loan in doubt not taken back: {e}");
    }
}

/// The library system answered an online return: its staged record goes.
fn finish_return(intent: Option<StagedReturn>, item: &str) {
    if let Some(i) = intent
        && let Err(e) = i.done()
    {
        tracing::error!(
            item,
            "offline queue: an answered return's record not removed: {e}"
        );
    }
}
