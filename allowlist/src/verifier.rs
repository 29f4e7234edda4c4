//! PIN verifiers: what an entry carries to check a typed PIN offline, by scheme
//! ([`PinVerifier`]): argon2id made by the publisher with a random salt per entry (parameters in
//! the list header), the library system's own bcrypt hash carried as it is, or none (the library
//! system exported no PIN; a device then checks only a verifier it learned online).
//!
//! A 4-digit PIN has 10,000 values, so no hash makes it strong; what argon2id buys is cost: with
//! OWASP's minimum (19 MiB, two passes) every guess costs tens of milliseconds and 19 MiB, and each
//! entry has its own salt, so guesses for one card do nothing for another.

use argon2::{Algorithm, Argon2, Params, Version};

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Parallel lanes.
    pub lanes: u32,
}

impl Argon2Params {
    /// OWASP's minimum for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
    pub const OWASP_MINIMUM: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        lanes: 1,
    };

    /// Whether argon2 accepts the parameters and a door can afford them (at most 256 MiB).
    pub fn check(&self) -> Result<(), String> {
        if self.memory_kib > 256 * 1024 {
            return Err(format!(
                "{} KiB of memory is more than a door has (256 MiB at most)",
                self.memory_kib
            ));
        }
        if !(1..=64).contains(&self.iterations) {
            return Err(format!("{} passes; expected 1 to 64", self.iterations));
        }
        if !(1..=16).contains(&self.lanes) {
            return Err(format!("{} lanes; expected 1 to 16", self.lanes));
        }
        self.argon2().map(|_| ())
    }

    /// The PHC string prefix (`$argon2id$v=19$m=19456,t=2,p=1`), for people and other tools.
    pub fn phc_prefix(&self) -> String {
        format!(
            "$argon2id$v=19$m={},t={},p={}",
            self.memory_kib, self.iterations, self.lanes
        )
    }

    /// The verifier of `pin` with `salt` and a `secret` (argon2's "pepper"): without the
    /// secret, the output is no help to anyone guessing the PIN. A device keys the verifiers it
    /// learns with a key derived from its card key, so a copy of their file alone gives nothing.
    pub fn verifier_with_secret(
        &self,
        pin: &redact::Pin,
        salt: &[u8; 16],
        secret: &[u8; 32],
    ) -> Result<[u8; 32], String> {
        let plain = self.argon2()?;
        let a = Argon2::new_with_secret(
            secret,
            Algorithm::Argon2id,
            Version::V0x13,
            plain.params().clone(),
        )
        .map_err(|e| format!("argon2: {e}"))?;
        let mut out = [0u8; 32];
        a.hash_password_into(pin.expose().as_bytes(), salt, &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        Ok(out)
    }

    /// Whether `pin` matches a verifier made by [`Self::verifier_with_secret`]; constant time.
    pub fn verify_with_secret(
        &self,
        pin: &redact::Pin,
        salt: &[u8; 16],
        secret: &[u8; 32],
        verifier: &[u8; 32],
    ) -> bool {
        match self.verifier_with_secret(pin, salt, secret) {
            Ok(out) => {
                out.iter()
                    .zip(verifier)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            Err(_) => false,
        }
    }

    fn argon2(&self) -> Result<Argon2<'static>, String> {
        // argon2 multiplies these unchecked; values from a file are bounded first.
        if self.lanes > 16 || self.iterations > 64 || self.memory_kib > 256 * 1024 {
            return Err(format!(
                "m={}, t={}, p={} is out of bounds",
                self.memory_kib, self.iterations, self.lanes
            ));
        }
        let p =
            Params::new(self.memory_kib, self.iterations, self.lanes, Some(32)).map_err(|e| {
                format!(
                    "argon2 refuses m={}, t={}, p={}: {e}",
                    self.memory_kib, self.iterations, self.lanes
                )
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }

    /// The verifier of `pin` with `salt` (16 random bytes from the caller).
    pub fn verifier(&self, pin: &redact::Pin, salt: &[u8; 16]) -> Result<[u8; 32], String> {
        let mut out = [0u8; 32];
        self.argon2()?
            .hash_password_into(pin.expose().as_bytes(), salt, &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        Ok(out)
    }

    /// Whether `pin` matches `verifier`; compared in constant time.
    pub fn verify(&self, pin: &redact::Pin, salt: &[u8; 16], verifier: &[u8; 32]) -> bool {
        match self.verifier(pin, salt) {
            Ok(out) => {
                out.iter()
                    .zip(verifier)
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            Err(_) => false,
        }
    }
}

/// How an entry's PIN is checked offline. The scheme is named in the entry (one tag byte), so a
/// list may mix them.
#[derive(Clone, PartialEq, Eq)]
pub enum PinVerifier {
    /// No verifier in the list: the library system exported no PIN for this patron. Offline,
    /// only a verifier the device learned after an online check can admit them.
    None,
    /// argon2id made by the publisher from a clear PIN, under the header's parameters.
    Argon2id {
        /// 16 random bytes, per entry.
        salt: [u8; 16],
        /// The 32-byte output.
        output: [u8; 32],
    },
    /// The library system's own hash, carried as it is (bcrypt, as Koha keeps
    /// `borrowers.password`).
    Bcrypt(crate::BcryptHash),
}

/// The answer of [`PinVerifier::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    /// The PIN matches.
    Match,
    /// The PIN does not match.
    Mismatch,
    /// The entry carries no verifier this device will run: none at all, or a bcrypt cost over
    /// the device's ceiling (the cost it carried is given).
    Unavailable {
        /// The bcrypt cost over the ceiling; `None` when the entry has no verifier.
        bcrypt_cost: Option<u8>,
    },
}

/// The tag bytes of the schemes in an entry.
pub(crate) mod tag {
    pub(crate) const NONE: u8 = 0;
    pub(crate) const ARGON2ID: u8 = 1;
    pub(crate) const BCRYPT: u8 = 2;
}

impl PinVerifier {
    /// Checks `pin`: argon2id under `argon2` (the list header's parameters), bcrypt only up to
    /// `max_bcrypt_cost` (each step of cost doubles a door's time per check; a hash over it is
    /// [`PinCheck::Unavailable`], never run).
    pub fn check(&self, pin: &redact::Pin, argon2: &Argon2Params, max_bcrypt_cost: u8) -> PinCheck {
        let ok = match self {
            Self::None => return PinCheck::Unavailable { bcrypt_cost: None },
            Self::Argon2id { salt, output } => argon2.verify(pin, salt, output),
            Self::Bcrypt(h) if h.cost() > max_bcrypt_cost => {
                return PinCheck::Unavailable {
                    bcrypt_cost: Some(h.cost()),
                };
            }
            Self::Bcrypt(h) => h.verify(pin),
        };
        if ok {
            PinCheck::Match
        } else {
            PinCheck::Mismatch
        }
    }

    /// The scheme's name, for people: `none`, `argon2id`, `bcrypt`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Argon2id { .. } => "argon2id",
            Self::Bcrypt(_) => "bcrypt",
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::None => out.push(tag::NONE),
            Self::Argon2id { salt, output } => {
                out.push(tag::ARGON2ID);
                out.extend_from_slice(salt);
                out.extend_from_slice(output);
            }
            Self::Bcrypt(h) => {
                out.push(tag::BCRYPT);
                out.extend_from_slice(&h.to_raw());
            }
        }
    }

    pub(crate) fn read(r: &mut crate::Reader<'_>) -> Result<Self, crate::FormatError> {
        match r.u8("entry PIN scheme")? {
            tag::NONE => Ok(Self::None),
            tag::ARGON2ID => Ok(Self::Argon2id {
                salt: r.array("entry argon2id salt")?,
                output: r.array("entry argon2id output")?,
            }),
            tag::BCRYPT => crate::BcryptHash::from_raw(&r.array("entry bcrypt hash")?)
                .map(Self::Bcrypt)
                .map_err(|e| crate::FormatError::Malformed {
                    what: "entry bcrypt hash",
                    problem: e.to_string(),
                }),
            other => Err(crate::FormatError::Malformed {
                what: "entry PIN scheme",
                problem: format!("unknown scheme {other} (0 none, 1 argon2id, 2 bcrypt)"),
            }),
        }
    }
}

impl std::fmt::Debug for PinVerifier {
    /// The scheme only (and a bcrypt hash's cost): with 10,000 four-digit PINs, salt and output
    /// are enough to find the PIN, so they never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bcrypt(h) => write!(f, "PinVerifier::Bcrypt(cost {})", h.cost()),
            other => write!(f, "PinVerifier::{}", other.scheme()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redact::Pin;

    const CHEAP: Argon2Params = Argon2Params {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };

    #[test]
    fn the_right_pin_verifies_and_no_other() {
        let salt = [7; 16];
        let v = CHEAP.verifier(&Pin::new("1234"), &salt).unwrap();
        assert!(CHEAP.verify(&Pin::new("1234"), &salt, &v));
        assert!(!CHEAP.verify(&Pin::new("1235"), &salt, &v));
        assert!(!CHEAP.verify(&Pin::new("1234"), &[8; 16], &v));
        assert_ne!(v, CHEAP.verifier(&Pin::new("1234"), &[8; 16]).unwrap());
    }

    #[test]
    fn a_verifier_with_a_secret_needs_the_secret() {
        let salt = [7; 16];
        let v = CHEAP
            .verifier_with_secret(&Pin::new("1234"), &salt, &[1; 32])
            .unwrap();
        assert!(CHEAP.verify_with_secret(&Pin::new("1234"), &salt, &[1; 32], &v));
        assert!(!CHEAP.verify_with_secret(&Pin::new("1234"), &salt, &[2; 32], &v));
        assert!(!CHEAP.verify_with_secret(&Pin::new("1235"), &salt, &[1; 32], &v));
        assert!(!CHEAP.verify(&Pin::new("1234"), &salt, &v));
    }

    #[test]
    fn each_scheme_checks_its_pin_and_a_costly_bcrypt_is_not_run() {
        let salt = [7; 16];
        let output = CHEAP.verifier(&Pin::new("1234"), &salt).unwrap();
        let argon = PinVerifier::Argon2id { salt, output };
        // Koha's own hash of 1234 (Crypt::Eksblowfish, cost 8) and of 987654 at cost 10.
        let koha = PinVerifier::Bcrypt(
            crate::BcryptHash::parse(
                "$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP72",
            )
            .unwrap(),
        );
        let costly = PinVerifier::Bcrypt(
            crate::BcryptHash::parse(
                "$2a$10$n8oVl5z.IjV.aD/ra3BsnebcFX9wIJUmLjs7Gk2/9ssc9uckg4z8S",
            )
            .unwrap(),
        );
        for v in [&argon, &koha] {
            assert_eq!(
                v.check(&Pin::new("1234"), &CHEAP, 12),
                PinCheck::Match,
                "{v:?}"
            );
            assert_eq!(
                v.check(&Pin::new("1235"), &CHEAP, 12),
                PinCheck::Mismatch,
                "{v:?}"
            );
        }
        assert_eq!(
            costly.check(&Pin::new("987654"), &CHEAP, 10),
            PinCheck::Match
        );
        assert_eq!(
            costly.check(&Pin::new("987654"), &CHEAP, 9),
            PinCheck::Unavailable {
                bcrypt_cost: Some(10)
            }
        );
        assert_eq!(
            PinVerifier::None.check(&Pin::new("1234"), &CHEAP, 12),
            PinCheck::Unavailable { bcrypt_cost: None }
        );
        let shown = format!("{argon:?} {koha:?}");
        assert_eq!(shown, "PinVerifier::argon2id PinVerifier::Bcrypt(cost 8)");
    }

    #[test]
    fn owasp_parameters_are_accepted_and_silly_ones_refused() {
        assert!(Argon2Params::OWASP_MINIMUM.check().is_ok());
        assert_eq!(
            Argon2Params::OWASP_MINIMUM.phc_prefix(),
            "$argon2id$v=19$m=19456,t=2,p=1"
        );
        assert!(
            Argon2Params {
                memory_kib: 1,
                iterations: 1,
                lanes: 1
            }
            .check()
            .is_err()
        );
        assert!(
            Argon2Params {
                memory_kib: 1 << 30,
                iterations: 1,
                lanes: 1
            }
            .check()
            .is_err()
        );
        assert!(
            Argon2Params {
                memory_kib: 64,
                iterations: 0,
                lanes: 1
            }
            .check()
            .is_err()
        );
    }
}
