//! Footnotes, for every input format: references are not read where they stand; each note is read at the end
//! of the section that first refers to it, after "Note:".

use super::{Aside, Essay, Paragraph, Skipped};

/// A footnote's text, and where it was defined.
pub(crate) struct Note {
    label: String,
    line: usize,
    text: String,
    /// The section the definition sits in (where a note nothing refers to is read).
    section: usize,
}

impl Note {
    pub(crate) fn new(label: &str, line: usize, section: usize) -> Note {
        Note {
            label: label.to_string(),
            line,
            text: String::new(),
            section,
        }
    }

    /// Adds text, a space apart from what is there.
    pub(crate) fn push(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(text);
    }
}

/// The notes of an essay and the references to them, as the parser meets them.
#[derive(Default)]
pub(crate) struct Notes {
    notes: Vec<Note>,
    /// In reading order: label, section, line.
    references: Vec<(String, usize, usize)>,
}

impl Notes {
    pub(crate) fn define(&mut self, note: Note) {
        self.notes.push(note);
    }

    pub(crate) fn refer(&mut self, label: &str, section: usize, line: usize) {
        self.references.push((label.to_string(), section, line));
    }

    /// Puts each note at the end of the section that first refers to it, after "Note:"; a note nothing refers
    /// to stays at the end of its own section. A reference to a note that does not exist is a warning.
    pub(crate) fn place(self, essay: &mut Essay) {
        let Notes { notes, references } = self;
        for (label, _, line) in &references {
            if !notes.iter().any(|n| n.label == *label) {
                essay.warnings.push(Skipped {
                    line: *line,
                    what: format!(
                        "footnote reference [^{label}] has no note (nothing is read for it)"
                    ),
                });
            }
        }
        let mut placed: Vec<(usize, usize, Note)> = notes
            .into_iter()
            .filter(|n| !n.text.is_empty())
            .map(|note| {
                match references
                    .iter()
                    .position(|(label, _, _)| *label == note.label)
                {
                    Some(i) => (references[i].1, i, note),
                    None => (note.section, usize::MAX, note),
                }
            })
            .collect();
        placed.sort_by_key(|(section, order, _)| (*section, *order));
        for (section, _, note) in placed {
            if essay.sections.is_empty() {
                essay.sections.push(Default::default());
            }
            let section = section.min(essay.sections.len() - 1);
            essay.sections[section].paragraphs.push(Paragraph {
                text: format!("Note: {}", note.text),
                line: note.line,
                list_item: false,
                pause_before: None,
                aside: Some(Aside::Note),
            });
        }
    }
}
