//! The card key kept inside the TPM: imported once as an HMAC-SHA256 key (a TPM keyed-hash
//! object, `tpm2_import -G hmac`), then each card number hashed by the TPM (`tpm2_hmac`). The key
//! never leaves the TPM again, so even a thief with the whole box hashes card numbers only at the
//! TPM's speed, one call at a time, instead of millions a second on their own machine.
//!
//! The hash is the standard HMAC-SHA256 of the message under the 32-byte key, the same as
//! `allowlist::CardKey::hash` of the normalised card number (tested), so lists and pseudonyms
//! made by the publisher with the key in clear match.
//!
//! Not yet used by the daemons: `CardKey` hashes in memory, and making it call the TPM is a change
//! of the allowlist and offline crates.

use std::path::PathBuf;

use crate::{Tpm, TpmError, WorkDir, parse_parts, write};

/// The first bytes of an imported HMAC key's file.
pub const MAGIC: &[u8] = b"omatoimi tpm2-hmac-key v1\n";

/// An HMAC key loaded in the TPM, ready to hash; its context file lives as long as it does.
#[derive(Debug)]
pub struct LoadedKey {
    tpm: Tpm,
    context: PathBuf,
    _work: WorkDir,
}

impl Tpm {
    /// Imports `key` as an HMAC-SHA256 key under the storage primary key and returns its file's
    /// bytes ([`MAGIC`], the public and the TPM-wrapped private part). `tpm2_import` reads the
    /// key from a file only (it seeks, so not a pipe): it is written for the moment of the
    /// import in a private (0700) directory and overwritten before it is removed. This is done
    /// once, where the key is already in a file (provisioning).
    pub fn import_hmac_key(&self, key: &[u8]) -> Result<Vec<u8>, TpmError> {
        if key.is_empty() || key.len() > crate::MAX_SECRET {
            return Err(TpmError::Size(key.len()));
        }
        self.present()?;
        let work = WorkDir::new()?;
        let primary = work.path("primary.ctx");
        let public = work.path("key.pub");
        let private = work.path("key.priv");
        let clear = work.path("key.bin");
        write(&clear, key)?;
        self.flush()?;
        self.primary(&primary)?;
        self.flush()?;
        let imported = self.run(
            "tpm2_import",
            &[
                "-C".as_ref(),
                primary.as_os_str(),
                "-G".as_ref(),
                "hmac".as_ref(),
                "-g".as_ref(),
                "sha256".as_ref(),
                "-i".as_ref(),
                clear.as_os_str(),
                "-u".as_ref(),
                public.as_os_str(),
                "-r".as_ref(),
                private.as_os_str(),
            ],
            None,
        );
        let _ = std::fs::write(&clear, vec![0u8; key.len()]);
        let _ = std::fs::remove_file(&clear);
        self.flush()?;
        imported?;
        self.blob(MAGIC, &public, &private, "tpm2_import")
    }

    /// Loads an imported HMAC key's file into this TPM (another TPM refuses it).
    pub fn load_hmac_key(&self, file: &[u8]) -> Result<LoadedKey, TpmError> {
        let (public, private) = parse_parts(file, MAGIC)?;
        self.present()?;
        let work = WorkDir::new()?;
        let primary = work.path("primary.ctx");
        let public_file = work.path("key.pub");
        let private_file = work.path("key.priv");
        let context = work.path("key.ctx");
        write(&public_file, public)?;
        write(&private_file, private)?;
        self.flush()?;
        self.primary(&primary)?;
        self.flush()?;
        let loaded = self.run(
            "tpm2_load",
            &[
                "-C".as_ref(),
                primary.as_os_str(),
                "-u".as_ref(),
                public_file.as_os_str(),
                "-r".as_ref(),
                private_file.as_os_str(),
                "-c".as_ref(),
                context.as_os_str(),
            ],
            None,
        );
        self.flush()?;
        loaded?;
        Ok(LoadedKey {
            tpm: self.clone(),
            context,
            _work: work,
        })
    }
}

impl LoadedKey {
    /// HMAC-SHA256 of `message` under the key, computed by the TPM.
    pub fn hmac(&self, message: &[u8]) -> Result<[u8; 32], TpmError> {
        let out = self.tpm.run(
            "tpm2_hmac",
            &[
                "-c".as_ref(),
                self.context.as_os_str(),
                "-g".as_ref(),
                "sha256".as_ref(),
                "--hex".as_ref(),
            ],
            Some(message),
        );
        self.tpm.flush()?;
        let out = out?;
        let text = String::from_utf8_lossy(&out);
        let text = text.trim();
        let mut mac = [0u8; 32];
        let ok = text.len() == 64
            && mac.iter_mut().enumerate().all(|(i, b)| {
                text.get(2 * i..2 * i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .map(|v| *b = v)
                    .is_some()
            });
        if !ok {
            return Err(TpmError::Tool {
                tool: "tpm2_hmac".into(),
                tcti: self.tpm.tcti.clone(),
                detail: format!("expected 64 hex digits, got {} bytes", out.len()),
            });
        }
        Ok(mac)
    }
}
