//! The central library system as a door or kiosk sees it: one [`Registry`] interface — verify a
//! patron's card and PIN, read their loans and holds, lend, take back, renew — over SIP2 (TLS via
//! rustls, or plain TCP when a library insists) or over Koha's REST API (HTTPS via reqwest and
//! rustls). The daemons depend on the trait and never care which backend a library runs.
//!
//! It is not the access policy (who may enter when) and not the offline allow-list: it reports
//! facts and outcomes; deciding is done elsewhere. Nor is it a command line: the `registry` tool
//! (`src/bin/registry/`, feature `cli`) is, so the daemons linking this crate build no terminal
//! prompt or log subscriber of ours.
//!
//! Layout:
//! - [`model`]: patron facts, transaction outcomes and errors, shared by both backends.
//! - [`sip2`]: the SIP2 backend: request building and reply mapping (pure), and the connection task.
//! - [`koha`]: the Koha REST backend with OAuth2 client-credentials tokens.
//! - [`tls`]: rustls client settings and certificate errors in plain words.
//! - [`AnyRegistry`]: whichever backend the configuration names.
//! - `cli` (feature `cli`, on by default, off for the daemons): the technicians' tools' PIN prompt
//!   and logging, shared by `registry` and `offline`.
#![deny(missing_docs)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod koha;
pub mod model;
pub mod sip2;
pub mod tls;

use std::future::Future;

use chrono::NaiveDateTime;
use config::registry::{Backend, RegistrySettings};
use redact::CardNumber;

pub use model::*;

/// What the daemons ask of the library system. A patron's "no" (wrong PIN, a ban, an item on hold
/// for someone else) is an `Ok` outcome; an `Err` means no answer could be had, and
/// [`RegistryError::is_offline`] tells when to fall back to offline operation.
pub trait Registry: Send + Sync {
    /// Does this card and PIN belong to a patron, and what does the policy need to know of them?
    fn verify(
        &self,
        login: &PatronLogin,
    ) -> impl Future<Output = Result<Verification, RegistryError>> + Send;

    /// The patron's loans (with titles and due dates) and holds.
    fn account(
        &self,
        login: &PatronLogin,
    ) -> impl Future<Output = Result<Account, RegistryError>> + Send;

    /// Lends `item` (a barcode) to the patron.
    fn checkout(
        &self,
        login: &PatronLogin,
        item: &str,
    ) -> impl Future<Output = Result<LoanOutcome, RegistryError>> + Send;

    /// Takes `item` back at this device's branch.
    fn checkin(
        &self,
        item: &str,
    ) -> impl Future<Output = Result<ReturnOutcome, RegistryError>> + Send;

    /// Renews one loan.
    fn renew(
        &self,
        login: &PatronLogin,
        item: &str,
    ) -> impl Future<Output = Result<LoanOutcome, RegistryError>> + Send;

    /// Renews every loan that can be renewed.
    fn renew_all(
        &self,
        login: &PatronLogin,
    ) -> impl Future<Output = Result<RenewAllOutcome, RegistryError>> + Send;

    /// What the system knows of `item`.
    fn item(&self, item: &str) -> impl Future<Output = Result<ItemFacts, RegistryError>> + Send;

    /// Delivers a loan made while the system was offline: lent at `at` (the kiosk's local time),
    /// due `due` as the kiosk told the patron, accepted whatever the patron's standing now (SIP2's
    /// no-block flag). The PIN is not sent: it was checked at the time, and is not kept.
    fn checkout_deferred(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
    ) -> impl Future<Output = Result<LoanOutcome, RegistryError>> + Send;

    /// Whether `item` is on loan to the patron with this card, asked with the device's own
    /// rights (no PIN): `Ok(None)` when the library system does not say. For a loan left in
    /// doubt whose item shows on loan: the library may have it, or still have the item lent to
    /// its previous borrower.
    fn lent_to(
        &self,
        card: &CardNumber,
        item: &str,
    ) -> impl Future<Output = Result<Option<bool>, RegistryError>> + Send {
        let _ = (card, item);
        async { Ok(None) }
    }

    /// Delivers a return made while the system was offline, at `at`.
    fn checkin_deferred(
        &self,
        item: &str,
        at: NaiveDateTime,
    ) -> impl Future<Output = Result<ReturnOutcome, RegistryError>> + Send;

    /// The patron is done (logged out at the kiosk).
    fn end_session(
        &self,
        login: &PatronLogin,
    ) -> impl Future<Output = Result<(), RegistryError>> + Send;
}

/// The backend the configuration names.
#[derive(Debug, Clone)]
pub enum AnyRegistry {
    /// SIP2.
    Sip2(sip2::Sip2Registry),
    /// Koha REST.
    Koha(koha::KohaRegistry),
}

impl AnyRegistry {
    /// Starts the configured backend. Connecting happens in the background (SIP2) or on first use
    /// (REST); setup problems (unreadable certificates, wrong credentials kind) are reported here.
    pub fn start(settings: &RegistrySettings) -> Result<Self, RegistryError> {
        Ok(match &settings.backend {
            Backend::Sip2(s) => Self::Sip2(sip2::Sip2Registry::start(s, settings)?),
            Backend::KohaRest(k) => Self::Koha(koha::KohaRegistry::new(k, settings)?),
        })
    }

    /// `sip2` or `koha-rest`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sip2(_) => "sip2",
            Self::Koha(_) => "koha-rest",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $r:ident => $e:expr) => {
        match $self {
            AnyRegistry::Sip2($r) => $e.await,
            AnyRegistry::Koha($r) => $e.await,
        }
    };
}

impl Registry for AnyRegistry {
    async fn verify(&self, login: &PatronLogin) -> Result<Verification, RegistryError> {
        dispatch!(self, r => r.verify(login))
    }
    async fn account(&self, login: &PatronLogin) -> Result<Account, RegistryError> {
        dispatch!(self, r => r.account(login))
    }
    async fn checkout(
        &self,
        login: &PatronLogin,
        item: &str,
    ) -> Result<LoanOutcome, RegistryError> {
        dispatch!(self, r => r.checkout(login, item))
    }
    async fn checkin(&self, item: &str) -> Result<ReturnOutcome, RegistryError> {
        dispatch!(self, r => r.checkin(item))
    }
    async fn checkout_deferred(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
    ) -> Result<LoanOutcome, RegistryError> {
        dispatch!(self, r => r.checkout_deferred(card, item, at, due))
    }
    async fn checkin_deferred(
        &self,
        item: &str,
        at: NaiveDateTime,
    ) -> Result<ReturnOutcome, RegistryError> {
        dispatch!(self, r => r.checkin_deferred(item, at))
    }
    async fn lent_to(&self, card: &CardNumber, item: &str) -> Result<Option<bool>, RegistryError> {
        dispatch!(self, r => r.lent_to(card, item))
    }
    async fn renew(&self, login: &PatronLogin, item: &str) -> Result<LoanOutcome, RegistryError> {
        dispatch!(self, r => r.renew(login, item))
    }
    async fn renew_all(&self, login: &PatronLogin) -> Result<RenewAllOutcome, RegistryError> {
        dispatch!(self, r => r.renew_all(login))
    }
    async fn item(&self, item: &str) -> Result<ItemFacts, RegistryError> {
        dispatch!(self, r => r.item(item))
    }
    async fn end_session(&self, login: &PatronLogin) -> Result<(), RegistryError> {
        dispatch!(self, r => r.end_session(login))
    }
}
