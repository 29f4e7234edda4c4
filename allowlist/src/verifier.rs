//! PIN verifiers: argon2id with a random salt per entry, parameters in the list header.
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
