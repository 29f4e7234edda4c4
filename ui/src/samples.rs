//! Sample views with the data a patron would see on each screen (long Finnish titles, a
//! library name longer than the header, overdue loans, every message): for the screenshots, the
//! real-window screens under Xvfb and the tests. Nothing here is shown to a patron.

use crate::view::{Help, Hold, Loan, Message, Mode, Outcome, Renewal, Row, RowState, Screen, View};

/// A view with the library, the clock and the help a real kiosk shows, in `language`.
pub fn base(language: &str) -> View {
    View {
        language: language.into(),
        library: "Lappeenrannan kaupunginkirjasto – Lauritsala".into(),
        printer_ready: true,
        clock: "20:05".into(),
        help: Help {
            text: match language {
                "sv" => "Personalen är på plats må–fre 10–18.",
                "en" => "Staff are in Mon–Fri 10–18.",
                _ => "Henkilökunta paikalla ma–pe 10–18.",
            }
            .into(),
            phone: "040 123 4567".into(),
            payment_link: "lappeenranta.fi/maksa".into(),
        },
        ..View::default()
    }
}

/// One item row.
pub fn row(
    title: &str,
    item: &str,
    state: RowState,
    outcome: Outcome,
    due: &str,
    note: &str,
) -> Row {
    Row {
        title: title.into(),
        item: item.into(),
        state,
        outcome,
        due: due.into(),
        note: note.into(),
    }
}

/// One view per screen, with the data a patron would see there.
pub fn screens(language: &str) -> Vec<(&'static str, View)> {
    let items = vec![
        row(
            "Tuntematon sotilas",
            "HE0000001",
            RowState::Ok,
            Outcome::Lent,
            "22.12.2026",
            "",
        ),
        row(
            "Muumipappa ja meri",
            "HE0000002",
            RowState::Notice,
            Outcome::LentOffline,
            "22.12.2026",
            "",
        ),
        row(
            "Kalevala (3 osaa)",
            "HE0000005",
            RowState::Failed,
            Outcome::PartsMissing,
            "",
            "2/3",
        ),
        row(
            "",
            "HE0000009",
            RowState::Failed,
            Outcome::ReservedForAnother,
            "",
            "",
        ),
        row(
            "Seitsemän veljestä",
            "HE0000003",
            RowState::Working,
            Outcome::Working,
            "",
            "",
        ),
    ];
    let loans = vec![
        Loan {
            title: "Tuntematon sotilas".into(),
            item: "HE0000001".into(),
            due: "22.12.2026".into(),
            overdue: false,
            ..Loan::default()
        },
        Loan {
            title: "Sinuhe egyptiläinen".into(),
            item: "HE0000004".into(),
            due: "20.11.2026".into(),
            overdue: true,
            ..Loan::default()
        },
        Loan {
            title: "Seitsemän veljestä – kuvitettu juhlapainos vuodelta 1947 alkuperäisine kuvituksineen".into(),
            item: "HE0000007".into(),
            due: "5.1.2027".into(),
            overdue: false,
            renewal: Renewal::Renewed,
            note: String::new(),
        },
        Loan {
            title: "Kalevala".into(),
            item: "HE0000003".into(),
            due: "18.12.2026".into(),
            overdue: false,
            renewal: Renewal::Refused,
            note: "Niteestä on varaus.".into(),
        },
    ];
    let holds = vec![
        Hold {
            title: "Täällä Pohjantähden alla".into(),
            ready: true,
            pickup: "Lappeenrannan pääkirjasto".into(),
        },
        Hold {
            title: "Pohjantähti II".into(),
            ready: false,
            pickup: String::new(),
        },
    ];
    vec![
        ("welcome", base(language)),
        (
            "card-number",
            View {
                screen: Screen::Pin,
                card_entry: Some("2468000".into()),
                ..base(language)
            },
        ),
        (
            "pin",
            View {
                screen: Screen::Pin,
                pin_length: 3,
                ..base(language)
            },
        ),
        (
            "items",
            View {
                screen: Screen::Items,
                items: items.clone(),
                ..base(language)
            },
        ),
        (
            // A stack of thirty: the list scrolled to the newest row, the buttons in view.
            "items-30",
            View {
                screen: Screen::Items,
                items: (1..=30)
                    .map(|n| {
                        let mut r = items[(n - 1) % 2].clone();
                        r.item = format!("HE{n:07}");
                        r.title = format!("{} ({n})", r.title);
                        r
                    })
                    .collect(),
                ..base(language)
            },
        ),
        (
            "items-offline",
            View {
                screen: Screen::Items,
                offline: true,
                items: items[..2].to_vec(),
                ..base(language)
            },
        ),
        (
            "returns",
            View {
                screen: Screen::Items,
                mode: Mode::Checkin,
                items: vec![
                    row(
                        "Tuntematon sotilas",
                        "HE0000001",
                        RowState::Ok,
                        Outcome::Returned,
                        "",
                        "",
                    ),
                    row(
                        "Muumipappa ja meri",
                        "HE0000002",
                        RowState::Notice,
                        Outcome::ReturnedForHold,
                        "",
                        "",
                    ),
                    row("", "XX123", RowState::Failed, Outcome::UnknownItem, "", ""),
                ],
                ..base(language)
            },
        ),
        (
            "receipt",
            View {
                screen: Screen::Receipt,
                ..base(language)
            },
        ),
        (
            "receipt-no-paper",
            View {
                screen: Screen::Receipt,
                printer_ready: false,
                ..base(language)
            },
        ),
        (
            "loans",
            View {
                screen: Screen::Loans,
                loans,
                holds,
                ..base(language)
            },
        ),
        (
            // Offline: the loans made here, said to be partial; no renewing.
            "loans-offline",
            View {
                screen: Screen::Loans,
                offline: true,
                loans_partial: true,
                loans: vec![Loan {
                    title: String::new(),
                    item: "HE0000002".into(),
                    due: "9.12.2026".into(),
                    overdue: false,
                    ..Loan::default()
                }],
                ..base(language)
            },
        ),
        (
            "message-locked-out",
            View {
                screen: Screen::Message,
                message: Some(Message::LockedOut),
                message_note: "15".into(),
                ..base(language)
            },
        ),
        (
            "message-wrong-pin",
            View {
                screen: Screen::Message,
                message: Some(Message::WrongPin),
                ..base(language)
            },
        ),
        (
            "message-offline",
            View {
                screen: Screen::Message,
                message: Some(Message::OfflineUnknown),
                offline: true,
                ..base(language)
            },
        ),
        (
            "message-fines",
            View {
                screen: Screen::Message,
                message: Some(Message::FinesOwed),
                message_note: if language == "en" {
                    "€12.50"
                } else {
                    "12,50 €"
                }
                .into(),
                ..base(language)
            },
        ),
        (
            "message-card-expired",
            View {
                screen: Screen::Message,
                message: Some(Message::CardExpired),
                ..base(language)
            },
        ),
        (
            "message-too-many-attempts",
            View {
                screen: Screen::Message,
                message: Some(Message::TooManyAttempts),
                ..base(language)
            },
        ),
        (
            "message-help",
            View {
                screen: Screen::Message,
                message: Some(Message::Help),
                ..base(language)
            },
        ),
        (
            "goodbye",
            View {
                screen: Screen::Goodbye,
                ..base(language)
            },
        ),
    ]
}
