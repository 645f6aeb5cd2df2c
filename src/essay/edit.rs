//! Changing one sentence of an essay file in place: its span in the source is found from the segment's line and
//! written text, and only that span is replaced, so the rest of the file (markup, wrapping, other sentences) stays
//! byte for byte as the writer left it.

/// Why a sentence cannot be changed in the file (said to the user, who can still edit the file by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The new text is empty or would change the essay's structure.
    Text(String),
    /// The sentence is not where the plan says, or not as plain text.
    NotFound,
    /// The sentence carries inline markup (emphasis, code, links) that a plain replacement would lose.
    Markup,
}

/// Characters of inline Markdown markup the parser removes from a sentence's text.
fn is_markup(c: char) -> bool {
    matches!(c, '*' | '_' | '`')
}

/// The new text, cleaned: one line, single spaces, no leading block markup.
pub(crate) fn clean(new: &str) -> Result<String, Refusal> {
    let text = new.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(Refusal::Text(
            "the new text is empty; to remove a sentence, edit the essay file".into(),
        ));
    }
    if text.chars().count() > 2000 {
        return Err(Refusal::Text(
            "the new text is over 2000 characters; split it in the essay file".into(),
        ));
    }
    Ok(text)
}

/// Replaces the `nth` (from 0) occurrence, at or after line `line` (from 1), of the sentence whose written text
/// is `old`, with `new`. Whitespace in the source (line breaks, indentation) matches any whitespace of `old`.
/// Returns the new file's text and the byte span that was replaced in the old one.
pub(crate) fn replace_sentence(
    source: &str,
    line: usize,
    old: &str,
    nth: usize,
    new: &str,
) -> Result<(String, std::ops::Range<usize>), Refusal> {
    let new = clean(new)?;
    let start_of_line = source
        .match_indices('\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| if line <= 1 { 0 } else { i + 1 });
    let wanted: Vec<char> = old
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect();
    if wanted.is_empty() {
        return Err(Refusal::NotFound);
    }
    let mut seen = 0;
    let mut at = start_of_line;
    while at < source.len() {
        match match_at(source, at, &wanted) {
            Some(end) => {
                let span = at..end;
                if seen == nth {
                    // Markup the parser removed (a plain-text essay keeps it, and then `old` has it too).
                    if source[span.clone()]
                        .chars()
                        .any(|c| is_markup(c) && !old.contains(c))
                    {
                        return Err(Refusal::Markup);
                    }
                    let starts_line = source[..at]
                        .chars()
                        .rev()
                        .take_while(|&c| c != '\n')
                        .all(char::is_whitespace);
                    if starts_line && starts_block(&new) && !starts_block(old.trim_start()) {
                        return Err(Refusal::Text(format!(
                            "the new text would start a heading, list or quote (`{}`); reword its start",
                            new.chars().take(3).collect::<String>()
                        )));
                    }
                    let mut out = String::with_capacity(source.len() + new.len());
                    out.push_str(&source[..at]);
                    out.push_str(&new);
                    out.push_str(&source[end..]);
                    return Ok((out, span));
                }
                seen += 1;
                at = end;
            }
            None => {
                at += source[at..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    Err(Refusal::NotFound)
}

/// Where the sentence `wanted` ends when it starts at byte `at` of `source`: its characters in order, any run of
/// whitespace for one space, inline markup passed over (and refused later); `None` if it does not start there.
fn match_at(source: &str, at: usize, wanted: &[char]) -> Option<usize> {
    let mut chars = source[at..].char_indices().peekable();
    let first = chars.peek()?.1;
    if first != wanted[0] {
        return None;
    }
    let mut w = 0;
    let mut end = at;
    while w < wanted.len() {
        let (i, c) = chars.next()?;
        if c == wanted[w] || (wanted[w] == ' ' && c.is_whitespace()) {
            if wanted[w] == ' ' {
                while chars.peek().is_some_and(|&(_, c)| c.is_whitespace()) {
                    chars.next();
                }
            }
            w += 1;
            end = at + i + c.len_utf8();
        } else if is_markup(c) && !wanted.contains(&c) {
            continue;
        } else {
            return None;
        }
    }
    Some(end)
}

/// Whether text at the start of a line would be read as a heading, list item or quote.
fn starts_block(text: &str) -> bool {
    let ordered = text.split_once(['.', ')']).is_some_and(|(n, rest)| {
        !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && rest.starts_with(' ')
    });
    ordered
        || ["#", "- ", "* ", "+ ", ">", "|"]
            .iter()
            .any(|m| text.starts_with(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sentence_changes_and_wrapping_elsewhere_stays() {
        let essay =
            "# Title\n\nThe ferry left at dawn. It was\n  cold on the water. Gulls followed.\n";
        let (out, span) = replace_sentence(
            essay,
            3,
            "It was cold on the water.",
            0,
            "The wind was sharp.",
        )
        .unwrap();
        assert_eq!(
            out,
            "# Title\n\nThe ferry left at dawn. The wind was sharp. Gulls followed.\n"
        );
        assert_eq!(&essay[span], "It was\n  cold on the water.");
    }

    #[test]
    fn the_nth_occurrence_after_the_line_is_the_one_changed() {
        let essay = "Yes. Stop.\n\nNo. Stop. Go.\n";
        let (out, _) = replace_sentence(essay, 3, "Stop.", 0, "Wait.").unwrap();
        assert_eq!(out, "Yes. Stop.\n\nNo. Wait. Go.\n");
        let (out, _) = replace_sentence(essay, 1, "Stop.", 1, "Wait.").unwrap();
        assert_eq!(out, "Yes. Stop.\n\nNo. Wait. Go.\n");
        let (out, _) = replace_sentence("Café au lait. Fin.", 1, "Fin.", 0, "Ende.").unwrap();
        assert_eq!(out, "Café au lait. Ende.");
    }

    #[test]
    fn markup_missing_text_and_structure_changes_are_refused() {
        let essay = "A *bold* claim. Plain words.\n";
        assert_eq!(
            replace_sentence(essay, 1, "A bold claim.", 0, "A claim.").unwrap_err(),
            Refusal::Markup
        );
        assert_eq!(
            replace_sentence(essay, 1, "Not there.", 0, "x").unwrap_err(),
            Refusal::NotFound
        );
        assert_eq!(
            replace_sentence(essay, 2, "A bold claim.", 0, "x").unwrap_err(),
            Refusal::NotFound
        );
        assert!(matches!(
            replace_sentence(essay, 1, "Plain words.", 0, "  \n ").unwrap_err(),
            Refusal::Text(_)
        ));
        let essay = "Plain words. More.\n";
        assert!(matches!(
            replace_sentence(essay, 1, "Plain words.", 0, "# Heading").unwrap_err(),
            Refusal::Text(_)
        ));
        assert!(matches!(
            replace_sentence(essay, 1, "Plain words.", 0, "2. Second").unwrap_err(),
            Refusal::Text(_)
        ));
        // Mid-line, the same text is no block.
        let (out, _) = replace_sentence(essay, 1, "More.", 0, "# not a heading").unwrap();
        assert_eq!(out, "Plain words. # not a heading\n");
        // New lines in the new text become spaces.
        let (out, _) = replace_sentence(essay, 1, "More.", 0, "Two\nlines.").unwrap();
        assert_eq!(out, "Plain words. Two lines.\n");
    }
}
