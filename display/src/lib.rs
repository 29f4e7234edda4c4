//! Words on a door's small display, pure (no I/O, no clock): what a patron reads at the door
//! after a card, wrapped to the display's lines ([`wrap`]), and the bytes a character LCD takes
//! ([`hd44780`]: the HD44780 controller in 4-bit mode behind the PCF8574 I2C backpack door
//! readers and hobby displays carry), with a decoder that reads those bytes back as the
//! controller would, for the twin and the tests; and the SSD1306 OLED controller as its
//! datasheet reads the bytes ([`ssd1306`]), for the graphic displays other door readers carry.

pub mod hd44780;
pub mod ssd1306;

/// `text` in at most `rows` lines of at most `cols` characters, broken between words; a word
/// longer than a line is cut across lines; what does not fit ends the last line with `…`.
pub fn wrap(text: &str, cols: usize, rows: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    let mut line = String::new();
    let cols = cols.max(1);
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let gap = usize::from(used > 0);
            if used + gap + word.len() <= cols {
                if gap == 1 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than a line.
            let rest = word.split_off(cols);
            lines.push(word.iter().collect());
            word = rest;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > rows {
        lines.truncate(rows);
        if let Some(last) = lines.last_mut() {
            let mut chars: Vec<char> = last.chars().collect();
            chars.truncate(cols.saturating_sub(1));
            chars.push('…');
            *last = chars.into_iter().collect();
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_kept_whole_and_what_does_not_fit_says_so() {
        assert_eq!(
            wrap(
                "Liian monta väärää PIN-koodia. Yritä 15 min kuluttua.",
                16,
                4
            ),
            vec!["Liian monta", "väärää", "PIN-koodia.", "Yritä 15 min…"]
        );
        assert_eq!(
            wrap("Korttia ei tunnisteta.", 16, 2),
            vec!["Korttia ei", "tunnisteta."]
        );
        assert_eq!(wrap("  ", 16, 2), Vec::<String>::new());
        assert_eq!(
            wrap("Omatoimikirjastokortti", 10, 3),
            vec!["Omatoimiki", "rjastokort", "ti"]
        );
        for cols in 1..24 {
            for rows in 1..5 {
                for l in wrap(
                    "Hyväksy omatoimikirjaston käyttöehdot kirjastossa.",
                    cols,
                    rows,
                ) {
                    assert!(l.chars().count() <= cols, "{l:?} over {cols}");
                }
            }
        }
    }
}
