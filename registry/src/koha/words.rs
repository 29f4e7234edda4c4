//! What Koha's REST API answers with codes (`Checkout not authorized (DEBT)`), said to the patron
//! in Finnish, Swedish or English. Over SIP2 the library system writes these words itself.

/// The patron's language as Koha stores it (`fi-FI`, `sv-SE`, `en`, `default`): `fi`, `sv` or `en`.
pub fn language(lang: Option<&str>) -> &'static str {
    match lang.map(|l| l.get(..2).unwrap_or(l).to_ascii_lowercase()) {
        Some(l) if l == "sv" => "sv",
        Some(l) if l == "en" => "en",
        _ => "fi",
    }
}

fn say(lang: &str, fi: &str, sv: &str, en: &str) -> String {
    match lang {
        "sv" => sv,
        "en" => en,
        _ => fi,
    }
    .to_owned()
}

/// Words for a `CanBookBeIssued` / `CanBookBeRenewed` code (upper or lower case).
pub fn reason(code: &str, lang: &str) -> String {
    match code.to_ascii_uppercase().as_str() {
        "DEBT" | "DEBT_GUARANTEES" | "DEBT_GUARANTORS" => say(
            lang,
            "Maksuja on yli rajan.",
            "Avgifterna är över gränsen.",
            "Your fines are over the limit.",
        ),
        "TOO_MANY" => say(
            lang,
            "Sinulla on jo enimmäismäärä lainoja.",
            "Du har redan högsta antalet lån.",
            "You already have the maximum number of loans.",
        ),
        "RESERVED" | "RESERVE_WAITING" | "ON_RESERVE" | "RESERVED_WAITING" => say(
            lang,
            "Nide on varattu toiselle asiakkaalle.",
            "Exemplaret är reserverat för en annan kund.",
            "This item is on hold for another patron.",
        ),
        "ISSUED_TO_ANOTHER" => say(
            lang,
            "Nide on lainassa toisella asiakkaalla.",
            "Exemplaret är utlånat till en annan kund.",
            "This item is on loan to another patron.",
        ),
        "RENEW_ISSUE" => say(
            lang,
            "Nide on jo lainassasi.",
            "Exemplaret är redan utlånat till dig.",
            "You already have this item on loan.",
        ),
        "NOT_FOR_LOAN" | "NOT_FOR_LOAN_FORCING" => say(
            lang,
            "Nide ei ole lainattavissa.",
            "Exemplaret lånas inte ut.",
            "This item is not for loan.",
        ),
        "DEBARRED"
        | "USERBLOCKEDNOENDDATE"
        | "USERBLOCKEDWITHENDDATE"
        | "RESTRICTION"
        | "RESTRICTED" => say(
            lang,
            "Sinulla on lainauskielto. Ota yhteys kirjastoon.",
            "Du har lånespärr. Kontakta biblioteket.",
            "Borrowing is blocked. Please contact the library.",
        ),
        "CARD_LOST" => say(
            lang,
            "Kortti on ilmoitettu kadonneeksi.",
            "Kortet har anmälts förlorat.",
            "This card has been reported lost.",
        ),
        "EXPIRED" => say(
            lang,
            "Kortti on vanhentunut. Uusi se palvelutiskillä.",
            "Kortet har gått ut. Förnya det vid disken.",
            "Your card has expired. Please renew it at the desk.",
        ),
        "UNKNOWN_BARCODE" | "ITEM_NOT_FOUND" => {
            say(lang, "Tuntematon nide.", "Okänt exemplar.", "Unknown item.")
        }
        "TOO_MANY_RENEWALS" | "NO_MORE_RENEWALS" | "TOO_MANY_UNSEEN" => say(
            lang,
            "Lainaa ei voi enää uusia.",
            "Lånet kan inte förnyas fler gånger.",
            "This loan cannot be renewed again.",
        ),
        "NOT_CHECKED_OUT" | "NO_CHECKOUT" => say(
            lang,
            "Nide ei ole lainassasi.",
            "Exemplaret är inte utlånat till dig.",
            "This item is not on loan to you.",
        ),
        "WRONG_PIN" => say(lang, "Väärä PIN-koodi.", "Fel PIN-kod.", "Wrong PIN."),
        "PATRON_NOT_FOUND" => say(lang, "Tuntematon kortti.", "Okänt kort.", "Unknown card."),
        "AGE_RESTRICTION" => say(
            lang,
            "Nide on ikärajoitettu.",
            "Exemplaret har en åldersgräns.",
            "This item has an age restriction.",
        ),
        other => match lang {
            "sv" => format!("Det gick inte ({other}). Fråga personalen."),
            "en" => format!("Not possible ({other}). Please ask the staff."),
            _ => format!("Ei onnistu ({other}). Kysy henkilökunnalta."),
        },
    }
}

/// The codes in Koha's `"Checkout not authorized (DEBT TOO_MANY)"` or
/// `"Renewal not authorized (too_many)"`.
pub fn codes(error: &str) -> Vec<String> {
    match (error.find('('), error.rfind(')')) {
        (Some(a), Some(b)) if a < b => error[a + 1..b]
            .split([' ', ','])
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_out_of_koha_error_strings() {
        assert_eq!(
            codes("Checkout not authorized (DEBT TOO_MANY)"),
            ["DEBT", "TOO_MANY"]
        );
        assert_eq!(codes("Renewal not authorized (too_many)"), ["too_many"]);
        assert!(codes("Confirmation error").is_empty());
    }

    #[test]
    fn every_language_gets_words_and_unknown_codes_are_shown() {
        assert_eq!(language(Some("sv-SE")), "sv");
        assert_eq!(language(Some("default")), "fi");
        assert_eq!(language(None), "fi");
        assert!(reason("DEBT", "sv").contains("Avgifterna"));
        assert!(reason("SOMETHING_NEW", "en").contains("SOMETHING_NEW"));
    }
}
