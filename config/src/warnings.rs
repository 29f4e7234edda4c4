//! Settings that are valid but risky: `check-config` prints these as warnings, so a technician
//! sees them before a box goes into a door frame.

use std::time::Duration;

use crate::allowlist::{AllowlistSettings, WhenExpired};
use crate::registry::{Backend, RegistrySettings};

/// Warnings about how the device reaches the library system.
pub fn registry(r: &RegistrySettings) -> Vec<String> {
    let mut w = Vec::new();
    match &r.backend {
        Backend::Sip2(s) if s.tls.is_none() => w.push(format!(
            "registry.sip2: plain TCP to {}: card numbers and PINs cross the network in clear; use TLS",
            s.address
        )),
        Backend::KohaRest(k) if !k.base_url.starts_with("https://") => w.push(format!(
            "registry.koha: {} is not HTTPS: patron data crosses the network in clear",
            k.base_url
        )),
        _ => {}
    }
    if r.timeout > Duration::from_secs(10) {
        w.push(format!(
            "registry.timeout_ms: {} ms: a patron waits that long before the offline list answers",
            r.timeout.as_millis()
        ));
    }
    w
}

/// Warnings about the offline list.
pub fn allowlist(a: &AllowlistSettings) -> Vec<String> {
    let mut w = Vec::new();
    if let WhenExpired::Grace(secs) = a.when_expired {
        if secs > 72 * 3600 {
            w.push(format!(
                "allowlist.grace_hours: {} h: an expired list keeps letting patrons in long after a ban or a lost card",
                secs / 3600
            ));
        }
    }
    if a.url.is_none() {
        w.push("allowlist.url: not set: the offline list is never refreshed on this device".into());
    } else if a.tls.client_identity.is_none() {
        w.push(
            "allowlist.client_cert: not set: a list server that serves only enrolled devices \
             (mutual TLS, as the library's nginx-allowlist.conf does) refuses this device; set \
             client_cert and client_key to the device's certificate and key (device.pem, \
             device-key.pem from omatoimi-provision, as in [registry])"
                .into(),
        );
    }
    w
}

/// A warning for keeping personal data (event logs, queues) longer than `days_ok` days.
pub fn retention(key: &str, kept: Duration, days_ok: u64) -> Option<String> {
    let days = kept.as_secs() / 86_400;
    (days > days_ok).then(|| {
        format!(
            "{key}: {days} days: personal data kept longer than {days_ok} days needs a reason in the library's privacy notice"
        )
    })
}
