//! A one-line text editor for the palette and the filter.

/// Text with a cursor (a char index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEditor {
    text: String,
    cursor: usize,
}

impl LineEditor {
    /// An editor holding `text`, cursor at the end.
    pub fn with_text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Cursor position in chars.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Inserts text at the cursor (control characters become spaces: a pasted newline must not
    /// submit half a statement).
    pub fn insert(&mut self, s: &str) {
        let clean: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let at = self.byte_at(self.cursor);
        self.text.insert_str(at, &clean);
        self.cursor += clean.chars().count();
    }

    /// Deletes the char before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            let at = self.byte_at(self.cursor - 1);
            self.text.remove(at);
            self.cursor -= 1;
        }
    }

    /// Deletes the char under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    /// Moves the cursor by `delta` chars, within bounds.
    pub fn move_by(&mut self, delta: isize) {
        let len = self.text.chars().count();
        self.cursor = self.cursor.saturating_add_signed(delta).min(len);
    }

    /// Cursor to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Cursor to the end.
    pub fn end(&mut self) {
        self.cursor = self.text.chars().count();
    }

    /// Empties the line.
    pub fn clear(&mut self) {
        self.text.clear();
        self.cursor = 0;
    }

    /// The part to show in `width` columns, and the cursor's column within it: scrolls so the
    /// cursor stays visible.
    pub fn window(&self, width: usize) -> (String, usize) {
        let width = width.max(1);
        let start = self.cursor.saturating_sub(width - 1);
        let shown: String = self.text.chars().skip(start).take(width).collect();
        (shown, self.cursor - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_by_char_not_byte() {
        let mut e = LineEditor::with_text("sélect");
        e.move_by(-5);
        e.backspace();
        assert_eq!(e.text(), "élect");
        e.delete();
        assert_eq!(e.text(), "lect");
        e.insert("se");
        assert_eq!((e.text(), e.cursor()), ("select", 2));
        e.move_by(100);
        assert_eq!(e.cursor(), 6);
        e.insert("\n1");
        assert_eq!(e.text(), "select 1");
        e.home();
        e.backspace();
        assert_eq!(e.cursor(), 0);
        e.clear();
        assert_eq!(e.text(), "");
    }

    #[test]
    fn window_follows_the_cursor() {
        let e = LineEditor::with_text("abcdefghij");
        assert_eq!(e.window(4), ("hij".into(), 3));
        let mut e = e;
        e.home();
        assert_eq!(e.window(4), ("abcd".into(), 0));
    }
}
