//! The CSV format (RFC 4180).

use super::Rows;

impl Rows {
    /// RFC 4180 CSV: fields with a comma, quote or line break are quoted, quotes doubled;
    /// NULL is an empty field. Lines end with CRLF as the RFC says.
    pub fn csv(&self, header: bool) -> String {
        let mut out = String::new();
        let mut line = |fields: Vec<Option<&str>>| {
            let cells: Vec<String> = fields.into_iter().map(csv_field).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        };
        if header {
            line(self.header.iter().map(|h| Some(h.as_str())).collect());
        }
        for row in &self.rows {
            line(row.iter().map(|v| v.as_deref()).collect());
        }
        out
    }
}

fn csv_field(value: Option<&str>) -> String {
    match value {
        None => String::new(),
        Some(v) if v.contains([',', '"', '\n', '\r']) => {
            format!("\"{}\"", v.replace('"', "\"\""))
        }
        Some(v) => v.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut t = Rows::new(&["a", "b", "c"]);
        t.push(vec![Some("plain".into()), Some("x,y".into()), None]);
        t.push(vec![
            Some("say \"hi\"".into()),
            Some("two\nlines".into()),
            Some(String::new()),
        ]);
        assert_eq!(
            t.csv(true),
            "a,b,c\r\nplain,\"x,y\",\r\n\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        );
        assert_eq!(
            t.tsv(true),
            "a\tb\tc\nplain\tx,y\tNULL\nsay \"hi\"\ttwo\\nlines\t\n"
        );
    }
}
