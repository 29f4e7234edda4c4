//! OAuth2 client-credentials tokens for Koha's REST API: fetched on first use, refreshed once
//! three quarters of their life (or all but a minute of it) has passed, so a request never goes
//! out with a token about to expire; dropped after a 401 so the next request fetches anew.

use std::time::Duration;

use redact::Pin;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::debug;

use super::wire::TokenReply;

/// Why no token could be had.
#[derive(Debug)]
pub(crate) enum TokenError {
    /// The request did not go through.
    Transport(reqwest::Error),
    /// Koha refused the client.
    Refused(String),
    /// The reply is not a token.
    Garbled(String),
}

struct Token {
    value: Pin,
    refresh_at: Instant,
}

/// The current token.
pub(crate) struct TokenCache {
    url: String,
    client_id: String,
    client_secret: Pin,
    current: Mutex<Option<Token>>,
}

/// When to refresh a token that lives `lifetime`.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    (lifetime * 3 / 4).max(lifetime.saturating_sub(Duration::from_secs(60)))
}

impl TokenCache {
    pub(crate) fn new(url: String, client_id: String, client_secret: Pin) -> Self {
        Self {
            url,
            client_id,
            client_secret,
            current: Mutex::new(None),
        }
    }

    /// A token good for the next request.
    pub(crate) async fn get(&self, http: &reqwest::Client) -> Result<Pin, TokenError> {
        let mut current = self.current.lock().await;
        if let Some(t) = current.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.value.clone());
            }
        }
        let asked = Instant::now();
        let resp = http
            .post(&self.url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose()),
            ])
            .send()
            .await
            .map_err(TokenError::Transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(TokenError::Transport)?;
        if !status.is_success() {
            let why = serde_json::from_slice::<super::wire::KohaError>(&bytes)
                .ok()
                .and_then(|e| e.error)
                .unwrap_or_default();
            return Err(TokenError::Refused(format!(
                "OAuth2 token for client {:?}: HTTP {status} {why}",
                self.client_id
            )));
        }
        let reply: TokenReply = serde_json::from_slice(&bytes)
            .map_err(|_| TokenError::Garbled("the OAuth2 token reply is not a token".into()))?;
        // A day at most: a server's huge `expires_in` must not overflow the refresh instant.
        let lifetime = Duration::from_secs(reply.expires_in.unwrap_or(3600).clamp(1, 86_400));
        debug!(lifetime_s = lifetime.as_secs(), "new OAuth2 token");
        let value = Pin::new(reply.access_token);
        *current = Some(Token {
            value: value.clone(),
            refresh_at: asked + refresh_after(lifetime),
        });
        Ok(value)
    }

    /// Forgets the token (after a 401).
    pub(crate) async fn invalidate(&self) {
        *self.current.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_refreshed_well_before_they_expire() {
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(60)),
            Duration::from_secs(45)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(4)),
            Duration::from_secs(3)
        );
    }
}
