//! The `[sip2]` table: which dialect the library system speaks, and overrides of its settings.
//!
//! ```toml
//! [sip2]
//! dialect = "aurora"        # standard, koha, evergreen, folio, sierra, aurora
//! charset = "utf-8"         # utf-8, iso-8859-1, cp850
//! error_detection = true    # AY sequence number and AZ checksum
//! terminator = "cr"         # cr or crlf
//! delimiter = "|"
//! send_empty = ["AC", "AD"] # optional fields sent even when empty
//! strict_required_fields = false
//! max_message_len = 65536
//! ```

use std::path::Path;

use serde::Deserialize;
use sip2::{Charset, Dialect, FieldCode, Terminator};

use crate::ConfigError;

/// The raw `[sip2]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSip2 {
    /// Preset name; `standard` when absent.
    pub dialect: Option<String>,
    /// Character set override.
    pub charset: Option<String>,
    /// Error detection override.
    pub error_detection: Option<bool>,
    /// Terminator override: `cr` or `crlf`.
    pub terminator: Option<String>,
    /// Field delimiter override: one ASCII punctuation character.
    pub delimiter: Option<String>,
    /// Optional fields to send even when empty, by two-letter code.
    pub send_empty: Option<Vec<String>>,
    /// Refuse messages missing required fields.
    pub strict_required_fields: Option<bool>,
    /// Bound on one message, in bytes.
    pub max_message_len: Option<usize>,
}

impl RawSip2 {
    /// Validates into a dialect. `file` and `table` (e.g. `sip2`; empty for command-line options)
    /// name where the settings came from.
    pub fn dialect(&self, file: &Path, table: &str) -> Result<Dialect, ConfigError> {
        let key = |k: &str| {
            if table.is_empty() {
                k.to_owned()
            } else {
                format!("{table}.{k}")
            }
        };
        let name = self.dialect.as_deref().unwrap_or("standard");
        let mut d = Dialect::preset(name).ok_or_else(|| {
            ConfigError::invalid(
                file,
                key("dialect"),
                format!(
                    "unknown dialect {name:?}; expected one of {}",
                    Dialect::PRESETS.join(", ")
                ),
            )
        })?;
        if let Some(cs) = &self.charset {
            d.charset = Charset::from_name(cs).ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    key("charset"),
                    format!("unknown character set {cs:?}; expected utf-8, iso-8859-1 or cp850"),
                )
            })?;
        }
        if let Some(ed) = self.error_detection {
            d.error_detection = ed;
        }
        if let Some(t) = &self.terminator {
            d.terminator = match t.to_ascii_lowercase().as_str() {
                "cr" => Terminator::Cr,
                "crlf" => Terminator::CrLf,
                _ => {
                    return Err(ConfigError::invalid(
                        file,
                        key("terminator"),
                        format!("{t:?} is not a terminator; expected \"cr\" or \"crlf\""),
                    ));
                }
            };
        }
        if let Some(delim) = &self.delimiter {
            d.delimiter = match delim.as_bytes() {
                [b] if b.is_ascii_punctuation() && !b"\\\"".contains(b) => *b,
                _ => {
                    return Err(ConfigError::invalid(
                        file,
                        key("delimiter"),
                        format!(
                            "{delim:?} cannot delimit fields; expected one ASCII punctuation character such as \"|\""
                        ),
                    ));
                }
            };
        }
        if let Some(codes) = &self.send_empty {
            d.send_empty = codes
                .iter()
                .map(|c| match c.as_bytes() {
                    [a, b] if a.is_ascii_uppercase() && (b.is_ascii_uppercase() || b.is_ascii_digit()) => {
                        Ok(FieldCode([*a, *b]))
                    }
                    _ => Err(ConfigError::invalid(
                        file,
                        key("send_empty"),
                        format!("{c:?} is not a field code; expected two upper-case letters such as \"AD\""),
                    )),
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(strict) = self.strict_required_fields {
            d.strict_required_fields = strict;
        }
        if let Some(max) = self.max_message_len {
            if !(256..=1024 * 1024).contains(&max) {
                return Err(ConfigError::invalid(
                    file,
                    key("max_message_len"),
                    format!("{max} is out of range; expected 256 to 1048576 bytes"),
                ));
            }
            d.max_message_len = max;
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        sip2: RawSip2,
    }

    fn dialect(text: &str) -> Result<Dialect, ConfigError> {
        let path = Path::new("door.toml");
        let f: File = crate::parse(path, text)?;
        f.sip2.dialect(path, "sip2")
    }

    #[test]
    fn preset_with_overrides() {
        let d = dialect("[sip2]\ndialect = \"koha\"\ncharset = \"cp850\"\nterminator = \"cr\"\n")
            .unwrap();
        assert_eq!(d.name, "koha");
        assert_eq!(d.charset, Charset::Cp850);
        assert_eq!(d.terminator, Terminator::Cr);
    }

    #[test]
    fn every_preset_loads() {
        for name in Dialect::PRESETS {
            assert_eq!(
                dialect(&format!("[sip2]\ndialect = \"{name}\"\n"))
                    .unwrap()
                    .name,
                *name
            );
        }
    }

    #[test]
    fn mistakes_name_the_file_the_key_and_what_was_expected() {
        let cases = [
            (
                "[sip2]\ndialect = \"alma\"\n",
                "sip2.dialect",
                "expected one of standard",
            ),
            (
                "[sip2]\ncharset = \"ebcdic\"\n",
                "sip2.charset",
                "expected utf-8",
            ),
            (
                "[sip2]\nterminator = \"lf\"\n",
                "sip2.terminator",
                "expected \"cr\"",
            ),
            (
                "[sip2]\ndelimiter = \"ab\"\n",
                "sip2.delimiter",
                "punctuation",
            ),
            (
                "[sip2]\nsend_empty = [\"AD\", \"pin\"]\n",
                "sip2.send_empty",
                "\"pin\"",
            ),
            (
                "[sip2]\nmax_message_len = 10\n",
                "sip2.max_message_len",
                "256",
            ),
        ];
        for (text, key, expected) in cases {
            let e = dialect(text).unwrap_err().to_string();
            assert!(e.starts_with("door.toml: key `"), "{e}");
            assert!(e.contains(key) && e.contains(expected), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_syntax_errors_with_a_line() {
        let e = dialect("[sip2]\ncharst = \"utf-8\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("door.toml") && e.contains("charst") && e.contains("line 2"),
            "{e}"
        );
        let e = dialect("[sip2]\nerror_detection = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_missing_file_is_a_read_error_naming_it() {
        let e = crate::load::<File>(Path::new("/nonexistent/door.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/door.toml: cannot read")
        );
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        sip2: RawSip2,
    }

    #[test]
    fn every_example_configuration_loads() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // The registry examples are loaded by `registry`'s own tests, the door's, the
            // kiosk's and the console's by theirs.
            let registry = name.starts_with("registry-")
                || ["door.toml", "kiosk.toml", "central.toml"].contains(&name.as_str());
            if path.extension().is_some_and(|e| e == "toml") && !registry {
                let f: File = crate::load(&path).unwrap();
                f.sip2.dialect(&path, "sip2").unwrap();
                seen += 1;
            }
        }
        assert!(seen >= 5);
    }
}
