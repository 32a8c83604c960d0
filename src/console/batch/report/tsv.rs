//! The TSV format: tab-separated, escaped like the mysql client's batch mode.

use super::Rows;
use crate::console::shell::render;

impl Rows {
    /// Tab-separated, escaped like the mysql client's batch mode.
    pub fn tsv(&self, header: bool) -> String {
        let rs = crate::proxysql::resultset::ResultSet {
            columns: self.header.clone(),
            rows: self.rows.clone(),
        };
        render::tsv(&rs, header)
    }
}
