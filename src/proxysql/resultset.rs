//! A text result set: what SQLite answers and what the admin sends over the wire.
//!
//! ProxySQL sends every admin column as text, and computes its checksums over exactly those
//! texts, so one representation serves the protocol writer, the checksums and the cluster pulls.

/// One result set with column names and rows of nullable text fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultSet {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

impl ResultSet {
    /// An empty result set with the given column names.
    pub fn with_columns<I, S>(columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends one row.
    pub fn push_row<I, S>(&mut self, row: I)
    where
        I: IntoIterator<Item = Option<S>>,
        S: Into<String>,
    {
        self.rows
            .push(row.into_iter().map(|f| f.map(Into::into)).collect());
    }

    /// A result set written out in a test: column names, then rows (`None` is SQL NULL).
    #[cfg(test)]
    pub fn literal(columns: &[&str], rows: &[&[Option<&str>]]) -> Self {
        let mut rs = Self::with_columns(columns.iter().copied());
        for row in rows {
            rs.push_row(row.iter().copied());
        }
        rs
    }

    /// Index of a column by case-insensitive name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }
}
