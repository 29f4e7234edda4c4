//! What a keyboard-wedge barcode scanner types (pure): Linux key codes and the modifiers held
//! become characters by the layout the scanner is set to (US or Finnish), and a scan ends at its
//! terminator key. A scanner set to the Finnish layout types `-` with the key US calls `/`, and
//! `:` `/` `?` `=` of a link with Shift on other keys than US: decoding by the wrong layout
//! misreads a phone card's link, so the layout is configured.

/// The keyboard layout a scanner is set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// US English (most scanners' factory setting).
    #[default]
    Us,
    /// Finnish (and Swedish: the same keys), ISO.
    Fi,
}

impl Layout {
    /// Parses the configuration's names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "us" => Some(Self::Us),
            "fi" => Some(Self::Fi),
            _ => None,
        }
    }
}

/// The key that ends a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Terminator {
    /// Enter (or the keypad's Enter): the factory setting.
    #[default]
    Enter,
    /// Tab.
    Tab,
}

impl Terminator {
    /// Parses the configuration's names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "enter" => Some(Self::Enter),
            "tab" => Some(Self::Tab),
            _ => None,
        }
    }
}

// Linux key codes (linux/input-event-codes.h) that are not characters.
const KEY_TAB: u16 = 15;
const KEY_ENTER: u16 = 28;
const KEY_LEFTSHIFT: u16 = 42;
const KEY_RIGHTSHIFT: u16 = 54;
const KEY_RIGHTALT: u16 = 100;
const KEY_KPENTER: u16 = 96;

/// Keys whose character is the same in both layouts and with or without Shift but for case:
/// the letters, by key code.
const LETTERS: [(u16, char); 26] = [
    (16, 'q'),
    (17, 'w'),
    (18, 'e'),
    (19, 'r'),
    (20, 't'),
    (21, 'y'),
    (22, 'u'),
    (23, 'i'),
    (24, 'o'),
    (25, 'p'),
    (30, 'a'),
    (31, 's'),
    (32, 'd'),
    (33, 'f'),
    (34, 'g'),
    (35, 'h'),
    (36, 'j'),
    (37, 'k'),
    (38, 'l'),
    (44, 'z'),
    (45, 'x'),
    (46, 'c'),
    (47, 'v'),
    (48, 'b'),
    (49, 'n'),
    (50, 'm'),
];

/// The number keys (keypad with Num Lock on, as scanners send them) and the keypad's signs.
fn keypad(layout: Layout, code: u16) -> Option<char> {
    Some(match code {
        71 => '7',
        72 => '8',
        73 => '9',
        75 => '4',
        76 => '5',
        77 => '6',
        79 => '1',
        80 => '2',
        81 => '3',
        82 => '0',
        55 => '*',
        74 => '-',
        78 => '+',
        98 => '/',
        // The keypad's decimal key is a comma on a Finnish layout.
        83 if layout == Layout::Fi => ',',
        83 => '.',
        _ => return None,
    })
}

/// The characters of the keys that are not letters or the keypad: (code, plain, Shift).
fn symbols(layout: Layout) -> &'static [(u16, char, char)] {
    match layout {
        Layout::Us => &[
            (2, '1', '!'),
            (3, '2', '@'),
            (4, '3', '#'),
            (5, '4', '$'),
            (6, '5', '%'),
            (7, '6', '^'),
            (8, '7', '&'),
            (9, '8', '*'),
            (10, '9', '('),
            (11, '0', ')'),
            (12, '-', '_'),
            (13, '=', '+'),
            (26, '[', '{'),
            (27, ']', '}'),
            (39, ';', ':'),
            (40, '\'', '"'),
            (41, '`', '~'),
            (43, '\\', '|'),
            (51, ',', '<'),
            (52, '.', '>'),
            (53, '/', '?'),
            (57, ' ', ' '),
        ],
        // Key 13 (´ and `) and 27 (¨ and ^) are dead keys: they type nothing alone, and
        // scanners set to Finnish avoid them.
        Layout::Fi => &[
            (2, '1', '!'),
            (3, '2', '"'),
            (4, '3', '#'),
            (5, '4', '¤'),
            (6, '5', '%'),
            (7, '6', '&'),
            (8, '7', '/'),
            (9, '8', '('),
            (10, '9', ')'),
            (11, '0', '='),
            (12, '+', '?'),
            (26, 'å', 'Å'),
            (39, 'ö', 'Ö'),
            (40, 'ä', 'Ä'),
            (41, '§', '½'),
            (43, '\'', '*'),
            (51, ',', ';'),
            (52, '.', ':'),
            (53, '-', '_'),
            (57, ' ', ' '),
            (86, '<', '>'),
        ],
    }
}

/// What AltGr (the right Alt) types on a Finnish layout; US scanners never send it.
const FI_ALTGR: [(u16, char); 10] = [
    (3, '@'),
    (4, '£'),
    (5, '$'),
    (6, '€'),
    (8, '{'),
    (9, '['),
    (10, ']'),
    (11, '}'),
    (12, '\\'),
    (86, '|'),
];

/// The character key `code` types in `layout` with Shift and AltGr as given, if any.
pub fn char_of(layout: Layout, code: u16, shift: bool, altgr: bool) -> Option<char> {
    if altgr {
        return match layout {
            Layout::Fi => FI_ALTGR.iter().find(|(c, _)| *c == code).map(|(_, ch)| *ch),
            Layout::Us => None,
        };
    }
    if let Some((_, ch)) = LETTERS.iter().find(|(c, _)| *c == code) {
        return Some(if shift { ch.to_ascii_uppercase() } else { *ch });
    }
    if let Some(ch) = keypad(layout, code) {
        return Some(ch);
    }
    symbols(layout)
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, plain, shifted)| if shift { *shifted } else { *plain })
}

/// The key and modifiers that type `ch` in `layout` (the main keys, not the keypad): what a
/// scanner set to that layout presses. For twins and tests.
pub fn chord_of(layout: Layout, ch: char) -> Option<(u16, bool, bool)> {
    if let Some((code, _)) = LETTERS.iter().find(|(_, c)| *c == ch.to_ascii_lowercase()) {
        return Some((*code, ch.is_ascii_uppercase(), false));
    }
    for (code, plain, shifted) in symbols(layout) {
        if *plain == ch {
            return Some((*code, false, false));
        }
        if *shifted == ch {
            return Some((*code, true, false));
        }
    }
    match layout {
        Layout::Fi => FI_ALTGR
            .iter()
            .find(|(_, c)| *c == ch)
            .map(|(code, _)| (*code, false, true)),
        Layout::Us => None,
    }
}

/// What one key event did to a scan being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typed {
    /// A character.
    Char(char),
    /// The terminator: the scan is complete.
    End,
    /// Nothing (a release, a modifier, a key that types nothing).
    Nothing,
}

/// A keyboard's modifier state, fed key events one by one.
#[derive(Debug, Clone, Default)]
pub struct Keyboard {
    layout: Layout,
    terminator: Terminator,
    left_shift: bool,
    right_shift: bool,
    altgr: bool,
}

impl Keyboard {
    /// A keyboard typing in `layout`, scans ending with `terminator`.
    pub fn new(layout: Layout, terminator: Terminator) -> Self {
        Self {
            layout,
            terminator,
            ..Self::default()
        }
    }

    /// Forgets the modifiers held (the device went away mid-scan: its releases never come).
    pub fn release_all(&mut self) {
        *self = Self::new(self.layout, self.terminator);
    }

    /// A key event: `value` 1 is a press, 0 a release, 2 a repeat (typed again).
    pub fn key(&mut self, code: u16, value: i32) -> Typed {
        let down = value != 0;
        match code {
            KEY_LEFTSHIFT => self.left_shift = down,
            KEY_RIGHTSHIFT => self.right_shift = down,
            KEY_RIGHTALT => self.altgr = down,
            _ if !down => {}
            KEY_ENTER | KEY_KPENTER if self.terminator == Terminator::Enter => return Typed::End,
            KEY_TAB if self.terminator == Terminator::Tab => return Typed::End,
            _ => {
                let shift = self.left_shift || self.right_shift;
                if let Some(ch) = char_of(self.layout, code, shift, self.altgr) {
                    return Typed::Char(ch);
                }
            }
        }
        Typed::Nothing
    }
}

/// The key events (code, value) a scanner set to `layout` sends to type `text` and end it with
/// `terminator`; `None` if the layout cannot type one of its characters. For twins and tests.
pub fn events_for(layout: Layout, text: &str, terminator: Terminator) -> Option<Vec<(u16, i32)>> {
    let mut out = vec![];
    for ch in text.chars() {
        let (code, shift, altgr) = chord_of(layout, ch)?;
        let modifier = if altgr {
            Some(KEY_RIGHTALT)
        } else if shift {
            Some(KEY_LEFTSHIFT)
        } else {
            None
        };
        out.extend(modifier.map(|m| (m, 1)));
        out.extend([(code, 1), (code, 0)]);
        out.extend(modifier.map(|m| (m, 0)));
    }
    let end = match terminator {
        Terminator::Enter => KEY_ENTER,
        Terminator::Tab => KEY_TAB,
    };
    out.extend([(end, 1), (end, 0)]);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    fn typed(kb: &mut Keyboard, events: &[(u16, i32)]) -> (String, bool) {
        let mut text = String::new();
        let mut ended = false;
        for (code, value) in events {
            match kb.key(*code, *value) {
                Typed::Char(c) => text.push(c),
                Typed::End => ended = true,
                Typed::Nothing => {}
            }
        }
        (text, ended)
    }

    #[test]
    fn every_key_of_both_layouts_types_what_its_chord_says() {
        // Exhaustive: every code, with and without Shift and AltGr, in both layouts. A key that
        // types a character is the key (or one of the keys) the layout types it with.
        let mut count = 0;
        for layout in [Layout::Us, Layout::Fi] {
            for code in 0..=255u16 {
                for shift in [false, true] {
                    for altgr in [false, true] {
                        let Some(ch) = char_of(layout, code, shift, altgr) else {
                            continue;
                        };
                        count += 1;
                        let (c2, s2, a2) = chord_of(layout, ch).unwrap();
                        assert_eq!(char_of(layout, c2, s2, a2), Some(ch), "{layout:?} {code}");
                    }
                }
            }
        }
        assert!(count > 200, "{count}");
    }

    #[test]
    fn the_finnish_layout_differs_where_scans_care() {
        // '-' (in card numbers) is KEY_SLASH on a Finnish layout, KEY_MINUS on a US one.
        assert_eq!(char_of(Layout::Fi, 53, false, false), Some('-'));
        assert_eq!(char_of(Layout::Us, 53, false, false), Some('/'));
        assert_eq!(char_of(Layout::Us, 12, false, false), Some('-'));
        assert_eq!(char_of(Layout::Fi, 12, false, false), Some('+'));
        // Digits are the top row, unshifted, in both; Shift+7 is '/' in Finnish, '&' in US.
        for (code, d) in (2..=11u16).zip("1234567890".chars()) {
            assert_eq!(char_of(Layout::Fi, code, false, false), Some(d));
            assert_eq!(char_of(Layout::Us, code, false, false), Some(d));
        }
        assert_eq!(char_of(Layout::Fi, 8, true, false), Some('/'));
        assert_eq!(char_of(Layout::Us, 8, true, false), Some('&'));
        assert_eq!(char_of(Layout::Fi, 3, false, true), Some('@'));
        assert_eq!(char_of(Layout::Us, 3, false, true), None);
        assert_eq!(char_of(Layout::Fi, 83, false, false), Some(','));
        assert_eq!(char_of(Layout::Fi, 13, false, false), None, "a dead key");
    }

    #[test]
    fn a_phone_cards_link_typed_in_finnish_reads_back() {
        let link = "https://kirjasto.example.fi/card?number=24680000000011&x=a-b_c";
        let events = events_for(Layout::Fi, link, Terminator::Enter).unwrap();
        let mut kb = Keyboard::new(Layout::Fi, Terminator::Enter);
        assert_eq!(typed(&mut kb, &events), (link.to_owned(), true));
        // Read as US, the same keys are another text: the layout must be the scanner's.
        let mut us = Keyboard::new(Layout::Us, Terminator::Enter);
        assert_ne!(typed(&mut us, &events).0, link);
        // Right Shift, repeats and releases, and Enter under a Tab terminator.
        let mut kb = Keyboard::new(Layout::Us, Terminator::Tab);
        assert_eq!(
            typed(
                &mut kb,
                &[
                    (54, 1),
                    (30, 1),
                    (30, 2),
                    (54, 0),
                    (30, 0),
                    (28, 1),
                    (15, 1)
                ]
            ),
            ("AA".to_owned(), true)
        );
        assert_eq!(kb.key(28, 1), Typed::Nothing);
        // Shift held as the device went away is not held on its return.
        kb.key(42, 1);
        kb.release_all();
        assert_eq!(kb.key(30, 1), Typed::Char('a'));
        assert_eq!(events_for(Layout::Us, "ä", Terminator::Enter), None);
    }

    proptest! {
        #[test]
        fn any_text_a_layout_can_type_reads_back(text in "[ -~åäöÅÄÖ€£§½¤]{0,60}", fi in any::<bool>()) {
            let layout = if fi { Layout::Fi } else { Layout::Us };
            if let Some(events) = events_for(layout, &text, Terminator::Enter) {
                let mut kb = Keyboard::new(layout, Terminator::Enter);
                prop_assert_eq!(typed(&mut kb, &events), (text.clone(), true));
            } else {
                // Only characters the layout has no key for make it fail.
                prop_assert!(text.chars().any(|c| chord_of(layout, c).is_none()));
            }
        }
    }
}
