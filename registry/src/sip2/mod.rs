//! The library system over SIP2: [`Sip2Registry`] turns each [`Registry`] operation into SIP2
//! requests on one [`session::Session`] and reads the replies with [`mapping`].

pub mod mapping;
pub mod session;

use std::sync::Arc;

use chrono::NaiveDateTime;
use config::registry::{Credentials, PatronMapping, RegistrySettings, Sip2Settings};
use sip2::{Message, Summary};

use crate::Registry;
use crate::model::*;
use mapping::{PatronReply, Requests};
use session::{Session, SessionSettings};

/// The library system's local time now.
fn now() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// [`Registry`] over SIP2.
#[derive(Debug, Clone)]
pub struct Sip2Registry {
    session: Session,
    requests: Requests,
    mapping: Arc<PatronMapping>,
}

impl Sip2Registry {
    /// Starts the connection (in the background) from validated settings.
    pub fn start(sip: &Sip2Settings, all: &RegistrySettings) -> Result<Self, RegistryError> {
        let Credentials::Sip2 { login, password } = &all.credentials else {
            return Err(RegistryError::Setup(
                "the SIP2 backend needs login and password in the credentials file".into(),
            ));
        };
        let tls = match &sip.tls {
            Some(t) => Some(Arc::new(crate::tls::client_config(t, &[])?)),
            None => None,
        };
        let requests = Requests {
            institution: sip.institution.clone(),
            location: sip.location.clone(),
        };
        let session = Session::start(SessionSettings {
            address: sip.address.clone(),
            server_name: sip.server_name.clone(),
            tls,
            dialect: sip.dialect.clone(),
            login: login.clone(),
            password: password.clone(),
            requests: requests.clone(),
            heartbeat: sip.heartbeat,
            connect_timeout: all.connect_timeout,
            timeout: all.timeout,
        });
        Ok(Self {
            session,
            requests,
            mapping: Arc::new(sip.mapping.clone()),
        })
    }

    /// Sends any SIP2 request on the session (for tools and tests).
    pub async fn call(&self, request: Message) -> Result<Message, RegistryError> {
        self.session.call(request).await
    }

    fn unexpected(what: &str, got: &Message) -> RegistryError {
        RegistryError::Protocol(format!("asked {what}, got {}", got.name()))
    }
}

impl Registry for Sip2Registry {
    async fn verify(&self, login: &PatronLogin) -> Result<Verification, RegistryError> {
        let t = now();
        let reply = self
            .session
            .call(self.requests.patron_information(login, None, t))
            .await?;
        match &reply {
            Message::PatronInformationResponse(r) => Ok(mapping::verification(
                &PatronReply::of_information(r),
                &self.mapping,
                t.date(),
                mapping::pin_of(login).is_some(),
            )),
            other => Err(Self::unexpected("patron information", other)),
        }
    }

    async fn account(&self, login: &PatronLogin) -> Result<Account, RegistryError> {
        let list = async |summary: usize| -> Result<(Vec<String>, Vec<String>), RegistryError> {
            match self
                .session
                .call(
                    self.requests
                        .patron_information(login, Some(summary), now()),
                )
                .await?
            {
                Message::PatronInformationResponse(r) => {
                    // A card-only login (no PIN sent) has no PIN to confirm.
                    if mapping::pin_of(login).is_some() && r.valid_patron_password != Some(true) {
                        return Err(RegistryError::Server(
                            "the library system did not accept the PIN for the account".into(),
                        ));
                    }
                    Ok(match summary {
                        Summary::CHARGED_ITEMS => (r.charged_items, r.overdue_items),
                        Summary::UNAVAILABLE_HOLDS => (r.unavailable_hold_items, vec![]),
                        _ => (r.hold_items, vec![]),
                    })
                }
                other => Err(Self::unexpected("patron information", &other)),
            }
        };
        let (charged, overdue) = list(Summary::CHARGED_ITEMS).await?;
        // SIP2's hold items are those available (waiting on the shelf); the rest are
        // unavailable holds, asked for apart.
        let (ready, _) = list(Summary::HOLD_ITEMS).await?;
        let (queued, _) = list(Summary::UNAVAILABLE_HOLDS).await?;
        let mut loans = Vec::with_capacity(charged.len());
        for item in charged {
            let facts = self.item(&item).await?;
            loans.push(LoanEntry {
                overdue: overdue.contains(&item) || facts.due.is_some_and(|d| d < now()),
                title: facts.title,
                due: facts.due,
                item,
            });
        }
        Ok(Account {
            loans,
            holds: ready
                .into_iter()
                .map(|item| (item, true))
                .chain(queued.into_iter().map(|item| (item, false)))
                .map(|(item, ready)| HoldEntry {
                    item,
                    title: None,
                    ready,
                    pickup: None,
                })
                .collect(),
        })
    }

    async fn checkout(
        &self,
        login: &PatronLogin,
        item: &str,
    ) -> Result<LoanOutcome, RegistryError> {
        match self
            .session
            .call(self.requests.checkout(login, item, now()))
            .await?
        {
            Message::CheckoutResponse(r) => Ok(mapping::loan_outcome(&r)),
            other => Err(Self::unexpected("checkout", &other)),
        }
    }

    async fn checkin(&self, item: &str) -> Result<ReturnOutcome, RegistryError> {
        match self
            .session
            .call(self.requests.checkin(item, now()))
            .await?
        {
            Message::CheckinResponse(r) => Ok(mapping::return_outcome(&r)),
            other => Err(Self::unexpected("checkin", &other)),
        }
    }

    async fn checkout_deferred(
        &self,
        card: &redact::CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
    ) -> Result<LoanOutcome, RegistryError> {
        match self
            .session
            .call(self.requests.checkout_deferred(card, item, at, due))
            .await?
        {
            Message::CheckoutResponse(r) => Ok(mapping::loan_outcome(&r)),
            other => Err(Self::unexpected("checkout", &other)),
        }
    }

    /// Patron Information (63) for the card alone (AD sent empty, as the dialects do), its
    /// charged items asked for: see [`mapping::lent_to`] for when the reply says.
    async fn lent_to(
        &self,
        card: &redact::CardNumber,
        item: &str,
    ) -> Result<Option<bool>, RegistryError> {
        let card_only = PatronLogin {
            card: card.clone(),
            pin: redact::Pin::default(),
        };
        match self
            .session
            .call(
                self.requests
                    .patron_information(&card_only, Some(Summary::CHARGED_ITEMS), now()),
            )
            .await?
        {
            Message::PatronInformationResponse(r) => Ok(mapping::lent_to(&r, item)),
            other => Err(Self::unexpected("patron information", &other)),
        }
    }

    async fn checkin_deferred(
        &self,
        item: &str,
        at: NaiveDateTime,
    ) -> Result<ReturnOutcome, RegistryError> {
        match self
            .session
            .call(self.requests.checkin_deferred(item, at))
            .await?
        {
            Message::CheckinResponse(r) => Ok(mapping::return_outcome(&r)),
            other => Err(Self::unexpected("checkin", &other)),
        }
    }

    async fn renew(&self, login: &PatronLogin, item: &str) -> Result<LoanOutcome, RegistryError> {
        match self
            .session
            .call(self.requests.renew(login, item, now()))
            .await?
        {
            Message::RenewResponse(r) => Ok(mapping::loan_outcome(&r)),
            other => Err(Self::unexpected("renew", &other)),
        }
    }

    async fn renew_all(&self, login: &PatronLogin) -> Result<RenewAllOutcome, RegistryError> {
        match self
            .session
            .call(self.requests.renew_all(login, now()))
            .await?
        {
            Message::RenewAllResponse(r) => Ok(mapping::renew_all_outcome(&r)),
            other => Err(Self::unexpected("renew all", &other)),
        }
    }

    async fn item(&self, item: &str) -> Result<ItemFacts, RegistryError> {
        match self
            .session
            .call(self.requests.item_information(item, now()))
            .await?
        {
            Message::ItemInformationResponse(r) => Ok(mapping::item_facts(&r)),
            other => Err(Self::unexpected("item information", &other)),
        }
    }

    async fn end_session(&self, login: &PatronLogin) -> Result<(), RegistryError> {
        match self
            .session
            .call(self.requests.end_session(&login.card, now()))
            .await?
        {
            Message::EndSessionResponse(_) => Ok(()),
            other => Err(Self::unexpected("end session", &other)),
        }
    }
}
