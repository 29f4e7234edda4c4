//! The kiosk's receipt: the library, the date, each item with its due date or what happened to
//! it, in the patron's language. Nothing on it identifies the patron: no name, no card number,
//! no fines; a receipt left on the kiosk tells nobody who borrowed what.

use chrono::NaiveDateTime;

use crate::CodePage;
use crate::escpos::{Align, Op};

/// What the receipt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// Items borrowed in this session.
    Loans,
    /// Items returned.
    Returns,
    /// Loans renewed.
    Renewals,
    /// All the patron's loans (from the loans screen).
    Account,
}

/// One item on the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptLine {
    /// The title, when known.
    pub title: Option<String>,
    /// The item's barcode (identifies the copy, not the patron).
    pub item: String,
    /// The due date.
    pub due: Option<NaiveDateTime>,
    /// The transaction did not go through (printed as "not lent" etc.).
    pub failed: bool,
}

/// A receipt to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The library's name as printed at the top.
    pub library: String,
    /// The branch, when printed apart.
    pub branch: Option<String>,
    /// The kiosk's local time at printing.
    pub printed_at: NaiveDateTime,
    /// What the receipt lists.
    pub kind: ReceiptKind,
    /// The items.
    pub lines: Vec<ReceiptLine>,
    /// Some loans were made while the library system was offline.
    pub offline: bool,
    /// A closing line set by the library (opening hours, a web address).
    pub footer: Option<String>,
    /// `fi`, `sv` or `en` (others print in English).
    pub language: String,
}

struct Words {
    title: [&'static str; 4],
    date: &'static str,
    due: &'static str,
    failed: [&'static str; 4],
    count: &'static str,
    offline: &'static str,
    thanks: &'static str,
}

const FI: Words = Words {
    title: ["Lainat", "Palautukset", "Uusitut lainat", "Lainasi"],
    date: "Päivämäärä",
    due: "Eräpäivä",
    failed: ["Ei lainattu", "Ei palautettu", "Ei uusittu", "-"],
    count: "Nidettä",
    offline: "Yhteys kirjastojärjestelmään oli poikki: lainat kirjataan, kun yhteys palaa.",
    thanks: "Kiitos käynnistä!",
};

const SV: Words = Words {
    title: ["Lån", "Återlämnade", "Förnyade lån", "Dina lån"],
    date: "Datum",
    due: "Förfallodag",
    failed: ["Inte utlånad", "Inte återlämnad", "Inte förnyad", "-"],
    count: "Exemplar",
    offline: "Biblioteksystemet kunde inte nås: lånen registreras när förbindelsen fungerar igen.",
    thanks: "Tack för besöket!",
};

const EN: Words = Words {
    title: ["Loans", "Returns", "Renewed loans", "Your loans"],
    date: "Date",
    due: "Due",
    failed: ["Not borrowed", "Not returned", "Not renewed", "-"],
    count: "Items",
    offline: "The library system was offline: the loans are recorded when it is back.",
    thanks: "Thank you for your visit!",
};

fn words(language: &str) -> &'static Words {
    match language {
        "fi" => &FI,
        "sv" => &SV,
        _ => &EN,
    }
}

/// `22.12.2026`, as Finland writes dates in all three languages.
fn date(t: NaiveDateTime) -> String {
    t.format("%-d.%-m.%Y").to_string()
}

/// Wraps `text` to lines of at most `width` characters (at least 8), at spaces where it can
/// (the door display's wrapping, [`display::wrap`]); an empty text is one empty line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let lines = display::wrap(text, width.max(8), usize::MAX);
    if lines.is_empty() {
        vec![String::new()]
    } else {
        lines
    }
}

impl Receipt {
    /// The printer operations for this receipt on paper `columns` characters wide (32 on 58 mm
    /// paper, 42 or 48 on 80 mm), in `page`.
    pub fn ops(&self, page: CodePage, columns: usize) -> Vec<Op> {
        let w = words(&self.language);
        let kind = self.kind as usize;
        let mut ops = vec![
            Op::Initialize,
            Op::CodePage(page),
            Op::Align(Align::Center),
            Op::Bold(true),
        ];
        ops.extend(wrap(&self.library, columns).into_iter().map(Op::Line));
        ops.push(Op::Bold(false));
        if let Some(b) = &self.branch {
            ops.extend(wrap(b, columns).into_iter().map(Op::Line));
        }
        ops.push(Op::Line(String::new()));
        ops.push(Op::Large(true));
        ops.push(Op::Line(w.title[kind].into()));
        ops.push(Op::Large(false));
        ops.push(Op::Line(format!(
            "{}: {} {}",
            w.date,
            date(self.printed_at),
            self.printed_at.format("%H:%M")
        )));
        ops.push(Op::Align(Align::Left));
        ops.push(Op::Line("-".repeat(columns)));
        for l in &self.lines {
            let title = l.title.as_deref().unwrap_or("");
            let mut head = wrap(if title.is_empty() { &l.item } else { title }, columns);
            head.truncate(3);
            ops.push(Op::Bold(true));
            ops.extend(head.into_iter().map(Op::Line));
            ops.push(Op::Bold(false));
            if !title.is_empty() {
                ops.push(Op::Line(l.item.clone()));
            }
            if l.failed {
                ops.push(Op::Line(w.failed[kind].into()));
            } else if let Some(due) = l.due {
                ops.push(Op::Line(format!("{}: {}", w.due, date(due))));
            }
            ops.push(Op::Line(String::new()));
        }
        ops.push(Op::Line("-".repeat(columns)));
        let done = self.lines.iter().filter(|l| !l.failed).count();
        ops.push(Op::Line(format!("{}: {done}", w.count)));
        if self.offline {
            ops.push(Op::Line(String::new()));
            ops.extend(wrap(w.offline, columns).into_iter().map(Op::Line));
        }
        ops.push(Op::Align(Align::Center));
        ops.push(Op::Line(String::new()));
        if let Some(f) = &self.footer {
            ops.extend(wrap(f, columns).into_iter().map(Op::Line));
        }
        ops.push(Op::Line(w.thanks.into()));
        ops.push(Op::Feed(4));
        ops.push(Op::Cut);
        ops
    }

    /// The ESC/POS bytes of this receipt.
    pub fn encode(&self, page: CodePage, columns: usize) -> Vec<u8> {
        crate::escpos::encode(&self.ops(page, columns))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::render::{Paper, render};
    use chrono::NaiveDate;
    use proptest::prelude::*;

    fn at(d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, 5, 0)
            .unwrap()
    }

    fn sample(language: &str) -> Receipt {
        Receipt {
            library: "Lappeenrannan kaupunginkirjasto".into(),
            branch: Some("Lauritsalan kirjasto".into()),
            printed_at: at(24, 20),
            kind: ReceiptKind::Loans,
            lines: vec![
                ReceiptLine {
                    title: Some("Tuntematon sotilas – Väinö Linna".into()),
                    item: "HE0000001".into(),
                    due: Some(at(22, 23)),
                    failed: false,
                },
                ReceiptLine {
                    title: None,
                    item: "HE0000009".into(),
                    due: None,
                    failed: true,
                },
            ],
            offline: true,
            footer: Some("heili.finna.fi".into()),
            language: language.into(),
        }
    }

    #[test]
    fn a_finnish_loan_receipt_prints_letters_dates_and_items() {
        for page in CodePage::ALL {
            let paper = render(&sample("fi").encode(page, 32)).unwrap();
            assert_eq!(paper.receipts.len(), 1, "one cut");
            let text = Paper::text(&paper.receipts[0]);
            for want in [
                "Lappeenrannan kaupunginkirjasto",
                "Lauritsalan kirjasto",
                "Lainat",
                "Päivämäärä: 24.11.2026 20:05",
                "Tuntematon sotilas - Väinö",
                "HE0000001",
                "Eräpäivä: 22.11.2026",
                "HE0000009\nEi lainattu",
                "Nidettä: 1",
                "kirjastojärjestelmään",
                "Kiitos käynnistä!",
            ] {
                assert!(text.contains(want), "{page:?} lacks {want:?} in\n{text}");
            }
            assert!(
                paper.receipts[0]
                    .iter()
                    .all(|l| l.text.chars().count() <= 32)
            );
        }
    }

    #[test]
    fn swedish_and_english_receipts_use_their_words() {
        let sv = Paper::text(
            &render(&sample("sv").encode(CodePage::Pc865, 42))
                .unwrap()
                .receipts[0],
        );
        assert!(sv.contains("Förfallodag: 22.11.2026") && sv.contains("Tack för besöket!"));
        let en = Paper::text(
            &render(&sample("xx").encode(CodePage::Pc437, 42))
                .unwrap()
                .receipts[0],
        );
        assert!(en.contains("Due: 22.11.2026") && en.contains("Not borrowed"));
    }

    #[test]
    fn wrapping_keeps_words_and_splits_only_what_cannot_fit() {
        assert_eq!(wrap("a bb ccc", 8), vec!["a bb ccc"]);
        assert_eq!(
            wrap("Tuntematon sotilas", 10),
            vec!["Tuntematon", "sotilas"]
        );
        assert_eq!(wrap("abcdefghijkl", 8), vec!["abcdefgh", "ijkl"]);
        assert_eq!(wrap("", 8), vec![""]);
    }

    proptest! {
        #[test]
        fn wrapped_lines_fit_and_keep_every_letter(text in "[a-zäö ]{0,80}", width in 8usize..40) {
            let lines = wrap(&text, width);
            prop_assert!(lines.iter().all(|l| l.chars().count() <= width));
            let joined: String = lines.concat().chars().filter(|c| *c != ' ').collect();
            let want: String = text.chars().filter(|c| *c != ' ').collect();
            prop_assert_eq!(joined, want);
        }
    }
}

/// A technician's test page: the device's name, the time, the code page with the Nordic letters
/// it prints, and a ruler as wide as `columns`, so a wrong code page or width shows at a glance.
pub fn test_page(device: &str, at: NaiveDateTime, page: CodePage, columns: usize) -> Vec<u8> {
    let ruler: String = (1..=columns)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    let ops = vec![
        Op::Initialize,
        Op::CodePage(page),
        Op::Align(Align::Center),
        Op::Bold(true),
        Op::Line("omatoimi test page".into()),
        Op::Bold(false),
        Op::Line(device.into()),
        Op::Line(at.format("%Y-%m-%d %H:%M").to_string()),
        Op::Align(Align::Left),
        Op::Line(format!("{} ({columns} columns):", page.name())),
        Op::Line("ÅÄÖ åäö ÆØ æø É é Ü ü".into()),
        Op::Line(ruler),
        Op::Feed(3),
        Op::Cut,
    ];
    crate::escpos::encode(&ops)
}

#[cfg(test)]
mod test_page_tests {
    use super::*;

    #[test]
    fn the_test_page_reads_back_with_its_letters_and_ruler() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .expect("date");
        let bytes = test_page("Lemi kiosk", at, CodePage::Pc865, 32);
        let mut r = crate::render::Renderer::new();
        assert_eq!(r.feed(&bytes), crate::render::Fed::default(), "renders");
        let paper = r.into_paper();
        assert_eq!(paper.receipts.len(), 1, "cut once");
        let text = crate::render::Paper::text(&paper.receipts[0]);
        assert!(text.contains("omatoimi test page"), "{text}");
        assert!(text.contains("ÅÄÖ åäö ÆØ æø É é Ü ü"), "{text}");
        assert!(text.contains("12345678901234567890123456789012"), "{text}");
    }
}
