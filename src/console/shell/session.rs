//! One shell session: the node list, the current node's connection, and what every statement
//! and shell command does. Shared by the interactive prompt, piped scripts, `-e` and `\source`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::io::AsyncWriteExt;

use super::complete::SharedVocabulary;
use super::input::{Accumulator, Item, Meta, HELP};
use super::render::{self, Phase};
use crate::client::conn::{self, ClientError, Conn, NodeAddr, Outcome, Stage};
use crate::client::layers::fetch_layers;
use crate::client::queries;
use crate::client::snapshot::fetch_snapshot;
use crate::console::batch::report;
use crate::console::diagnosis::diagnose_with_layers;
use crate::console::matrix::Matrix;
use crate::proxysql::resultset::ResultSet;

/// Statements in the shell are bounded by Ctrl-C, not by a timer (like the mysql client).
const NO_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long `\nodes` and `\diag` wait for each node.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long reading the completion vocabulary may take.
const VOCABULARY_TIMEOUT: Duration = Duration::from_secs(3);
/// `\source` nesting limit, against a file that sources itself.
const MAX_SOURCE_DEPTH: usize = 16;

/// How the session prints and reacts to errors.
#[derive(Debug, Clone)]
pub struct Options {
    /// A person at a terminal: boxed tables with row counts, Ctrl-C cancels statements, errors
    /// never end the session.
    pub interactive: bool,
    /// Boxed tables even when not interactive (`-t`, or `-e` on a terminal).
    pub table: bool,
    /// Column names in tab-separated output (off with `-N` and `-s`).
    pub header: bool,
    /// Column names in `\G` records (off with `-N`).
    pub names: bool,
    /// Every result as `\G` records (`-E`).
    pub vertical: bool,
    /// Tab-separated values unescaped (`-r`).
    pub raw: bool,
    /// The database sent at login (`-D`).
    pub database: Option<String>,
    /// The pager `\P` without a command and `--pager` use (`$PAGER` unless set).
    pub default_pager: Option<String>,
    /// The pager results go through from the start (`--pager`, an option file's `pager`).
    pub pager: Option<String>,
    /// Keep going after an error in a script (`-f`).
    pub force: bool,
    /// Limit for opening a connection.
    pub connect_timeout: Duration,
}

/// What the caller should do after an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// `\q`, `exit`: leave normally.
    Quit,
    /// A script error without `-f`: stop with a failure.
    Abort,
}

/// Where an item came from, for `ERROR ... at line N`.
#[derive(Debug, Clone, Default)]
struct Origin {
    line: usize,
    file: Option<PathBuf>,
}

/// The session state.
pub struct ShellSession {
    nodes: Vec<NodeAddr>,
    current: usize,
    conn: Option<Conn>,
    timing: bool,
    opts: Options,
    vocab: SharedVocabulary,
    vocab_node: Option<usize>,
    depth: usize,
    errors: usize,
    /// Results go through this command (`\P`); only at the prompt, as in the mysql client.
    pager: Option<String>,
    /// Everything shown is appended here too (`\T`).
    tee: Option<(PathBuf, std::fs::File)>,
}

/// Runs `fut`, or gives up on Ctrl-C when `interruptible`; `None` means interrupted. Dropping
/// the future drops whatever connection it was using mid-statement, which is the point: the
/// statement's answer can never be mistaken for the next statement's.
pub async fn interruptible<T>(interruptible: bool, fut: impl Future<Output = T>) -> Option<T> {
    if !interruptible {
        return Some(fut.await);
    }
    tokio::select! {
        r = fut => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    }
}

/// Opens a connection for the shell: `limit` for the handshake, no limit for statements.
pub async fn open(
    addr: &NodeAddr,
    limit: Duration,
    schema: Option<&str>,
) -> Result<Conn, ClientError> {
    match tokio::time::timeout(limit, conn::connect_to_schema(addr, NO_LIMIT, schema)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout {
            stage: Stage::Connect,
            after_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        }),
    }
}

/// Writes to stdout without blocking the runtime.
pub async fn out(text: &str) {
    let mut o = tokio::io::stdout();
    let _ = o.write_all(text.as_bytes()).await;
    let _ = o.flush().await;
}

/// Writes to stderr without blocking the runtime.
pub async fn err(text: &str) {
    let mut e = tokio::io::stderr();
    let _ = e.write_all(text.as_bytes()).await;
    let _ = e.flush().await;
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// One node's answer in `\all`.
type NodeAnswer = (Result<Outcome, (Phase, ClientError)>, Duration);

impl ShellSession {
    /// A session on `nodes` (at least one), starting on the first, not yet connected.
    pub fn new(nodes: Vec<NodeAddr>, opts: Options, vocab: SharedVocabulary) -> ShellSession {
        vocab.write().nodes = nodes.iter().map(|n| n.name.clone()).collect();
        ShellSession {
            pager: opts.pager.clone(),
            nodes,
            current: 0,
            conn: None,
            timing: false,
            opts,
            vocab,
            vocab_node: None,
            depth: 0,
            errors: 0,
            tee: None,
        }
    }

    /// The current node.
    pub fn node(&self) -> &NodeAddr {
        &self.nodes[self.current]
    }

    /// Errors reported so far.
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// Connects to the current node if not connected; reads the completion vocabulary the
    /// first time a node is used interactively.
    pub async fn connect(&mut self) -> Result<&mut Conn, ClientError> {
        if self.conn.is_none() {
            let c = open(
                &self.nodes[self.current],
                self.opts.connect_timeout,
                self.opts.database.as_deref(),
            )
            .await?;
            self.conn = Some(c);
        }
        if self.opts.interactive && self.vocab_node != Some(self.current) {
            self.vocab_node = Some(self.current);
            // Completion is a convenience: a busy node must not hold up the statement for it.
            if tokio::time::timeout(VOCABULARY_TIMEOUT, self.refresh_vocabulary())
                .await
                .is_err()
            {
                // The connection is mid-answer now; the statement gets a fresh one.
                self.conn = None;
                let c = open(
                    &self.nodes[self.current],
                    self.opts.connect_timeout,
                    self.opts.database.as_deref(),
                )
                .await?;
                self.conn = Some(c);
            }
        }
        self.conn.as_mut().ok_or_else(|| ClientError::Io {
            cause: "not connected".into(),
        })
    }

    /// The server version of the current node (for the banner).
    pub async fn server_version(&mut self) -> Result<String, ClientError> {
        let c = self.connect().await?;
        let rs = conn::query_text(c, queries::SERVER_VERSION).await?;
        Ok(rs
            .rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default())
    }

    async fn refresh_vocabulary(&mut self) {
        let Some(c) = self.conn.as_mut() else { return };
        let mut tables = Vec::new();
        for sql in queries::TABLE_LISTS {
            if let Ok(rs) = conn::query_text(c, sql).await {
                tables.extend(
                    rs.rows
                        .into_iter()
                        .filter_map(|r| r.into_iter().next().flatten()),
                );
            }
        }
        let variables = conn::query_text(c, queries::VARIABLE_NAMES)
            .await
            .map(|rs| {
                rs.rows
                    .into_iter()
                    .filter_map(|r| r.into_iter().next().flatten())
                    .collect()
            })
            .unwrap_or_default();
        let mut v = self.vocab.write();
        tables.sort();
        tables.dedup();
        v.tables = tables;
        v.variables = variables;
    }

    /// Runs one item; boxed because `\source` recurses.
    pub fn run_item<'a>(
        &'a mut self,
        item: Item,
        file: Option<&'a Path>,
    ) -> Pin<Box<dyn Future<Output = Flow> + Send + 'a>> {
        Box::pin(async move {
            match item {
                Item::Statement {
                    sql,
                    vertical,
                    line,
                } => {
                    let origin = Origin {
                        line,
                        file: file.map(Path::to_path_buf),
                    };
                    self.statement(&sql, vertical, &origin).await
                }
                Item::Meta { meta, line } => {
                    let origin = Origin {
                        line,
                        file: file.map(Path::to_path_buf),
                    };
                    self.meta(meta, &origin).await
                }
            }
        })
    }

    /// Feeds a whole script (a `-e` argument, a file) through the accumulator and runs it.
    pub async fn run_script(&mut self, text: &str, file: Option<&Path>) -> Flow {
        let mut acc = Accumulator::new();
        for line in text.lines() {
            for item in acc.feed(line) {
                match self.run_item(item, file).await {
                    Flow::Continue => {}
                    other => return other,
                }
            }
        }
        for item in acc.finish() {
            match self.run_item(item, file).await {
                Flow::Continue => {}
                other => return other,
            }
        }
        Flow::Continue
    }

    /// `line N` (scripts) or `line N in file: 'F'` (`\source`); nothing at the prompt.
    fn location(&self, origin: &Origin) -> Option<String> {
        match (&origin.file, self.opts.interactive) {
            (Some(f), _) => Some(format!("line {} in file: '{}'", origin.line, f.display())),
            (None, false) => Some(format!("line {}", origin.line)),
            (None, true) => None,
        }
    }

    async fn error(&mut self, text: &str) -> Flow {
        self.errors += 1;
        let text = with_newline(text.to_owned());
        self.tee_text(&text);
        err(&text).await;
        if self.opts.interactive || self.opts.force {
            Flow::Continue
        } else {
            Flow::Abort
        }
    }

    async fn client_error(&mut self, e: &ClientError, phase: Phase, origin: &Origin) -> Flow {
        let endpoint = self.node().endpoint();
        // Like the mysql client, which connects before reading anything: a failed connection
        // has no line in the script.
        let at = match phase {
            Phase::Connect => None,
            Phase::Query => self.location(origin),
        };
        let line = render::error_line(e, phase, &endpoint, at.as_deref());
        self.error(&line).await
    }

    async fn statement(&mut self, sql: &str, vertical: bool, origin: &Origin) -> Flow {
        let started = Instant::now();
        let interactive = self.opts.interactive;
        let conn = match self.connect().await {
            Ok(c) => c,
            Err(e) => return self.client_error(&e, Phase::Connect, origin).await,
        };
        match interruptible(interactive, conn::execute_text(conn, sql)).await {
            None => {
                self.conn = None;
                err(
                    "Ctrl-C -- query aborted (connection dropped; the next statement reconnects)\n",
                )
                .await;
                Flow::Continue
            }
            Some(Err(e)) => {
                if e.is_fatal() {
                    self.conn = None;
                }
                self.client_error(&e, Phase::Query, origin).await
            }
            Some(Ok(outcome)) => {
                let node = self.node().name.clone();
                let text = self.render_outcome(&outcome, vertical, started.elapsed(), &node);
                self.show(&text).await;
                Flow::Continue
            }
        }
    }

    fn render_outcome(&self, o: &Outcome, vertical: bool, elapsed: Duration, node: &str) -> String {
        let mut text = String::new();
        let interactive = self.opts.interactive;
        if o.result.columns.is_empty() {
            if interactive {
                text.push_str(&render::ok_line(
                    o.affected_rows,
                    o.warnings,
                    &o.info,
                    elapsed,
                ));
                text.push('\n');
            }
        } else {
            // An empty result prints nothing but `Empty set` at the prompt, and nothing at all
            // otherwise (no header box or name line), as in the mysql client.
            if !o.result.rows.is_empty() {
                text.push_str(&self.render_rows(&o.result, vertical));
            }
            if interactive {
                text.push_str(&render::rows_line(o.result.rows.len(), elapsed));
                text.push('\n');
            }
        }
        if self.timing {
            text.push_str(&format!(
                "Time: {:.3} ms on {node}\n",
                elapsed.as_secs_f64() * 1000.0
            ));
        }
        if interactive {
            text.push('\n');
        }
        text
    }

    fn render_rows(&self, rs: &ResultSet, vertical: bool) -> String {
        if vertical || self.opts.vertical {
            render::vertical_with(rs, self.opts.names)
        } else if self.opts.interactive || self.opts.table {
            render::boxed(rs)
        } else {
            render::tsv_with(rs, self.opts.header, self.opts.raw)
        }
    }

    async fn meta(&mut self, meta: Meta, origin: &Origin) -> Flow {
        match meta {
            Meta::Quit => Flow::Quit,
            Meta::Help => {
                self.show(HELP).await;
                Flow::Continue
            }
            Meta::Pager(command) => {
                self.set_pager(command).await;
                Flow::Continue
            }
            Meta::NoPager => {
                self.pager = None;
                self.say("PAGER set to stdout\n").await;
                Flow::Continue
            }
            Meta::Tee(file) => self.set_tee(file).await,
            Meta::NoTee => {
                if self.tee.take().is_some() {
                    out("Outfile disabled.\n").await;
                }
                Flow::Continue
            }
            Meta::Status => {
                let text = self.status().await;
                self.show(&text).await;
                Flow::Continue
            }
            Meta::Clear => Flow::Continue,
            Meta::Edit(_) => {
                self.error("ERROR: \\e edits at the prompt only (stdin is not a terminal)")
                    .await
            }
            Meta::System(command) => self.system(&command).await,
            Meta::Timing => {
                self.timing = !self.timing;
                out(if self.timing {
                    "Timing is on.\n"
                } else {
                    "Timing is off.\n"
                })
                .await;
                Flow::Continue
            }
            Meta::Nodes => {
                self.list_nodes().await;
                Flow::Continue
            }
            Meta::Use(target) => self.use_node(&target, origin).await,
            Meta::All { sql, vertical } => self.all(&sql, vertical, origin).await,
            Meta::Diag => self.diag().await,
            Meta::Top { kind, arg } => self.top(kind, &arg).await,
            Meta::Source(path) => self.source(&path).await,
            Meta::Unknown(text) => {
                self.error(&format!(
                    "ERROR: Unknown command '{text}'. Type \\help for the list."
                ))
                .await
            }
        }
    }

    async fn list_nodes(&mut self) {
        let probes = self.nodes.iter().map(|n| async move {
            let started = Instant::now();
            let r = async {
                // Bounded as a whole: a node busy with a long statement counts as slow.
                let mut c = conn::connect(n, PROBE_TIMEOUT)
                    .await
                    .map_err(|e| (Phase::Connect, e))?;
                let v = conn::query_text(&mut c, queries::SERVER_VERSION)
                    .await
                    .map_err(|e| (Phase::Query, e))?;
                c.close().await;
                Ok::<_, (Phase, ClientError)>(
                    v.rows
                        .first()
                        .and_then(|r| r.first().cloned().flatten())
                        .unwrap_or_default(),
                )
            }
            .await;
            (r, started.elapsed())
        });
        let Some(results) = interruptible(self.opts.interactive, join_all(probes)).await else {
            err("Ctrl-C -- \\nodes aborted\n").await;
            return;
        };
        let mut t = render::new_table();
        t.set_header(["", "#", "name", "endpoint", "user", "state", "version"]);
        for (i, (n, (r, elapsed))) in self.nodes.iter().zip(results).enumerate() {
            let marker = if i == self.current { "*" } else { "" };
            let (state, version) = match r {
                Ok(v) => (format!("up ({} ms)", elapsed.as_millis()), v),
                Err((phase, e)) => {
                    let (code, _, msg) = render::error_parts(&e, phase, &n.endpoint());
                    let word = if e.is_access_denied() {
                        "REFUSED"
                    } else {
                        "DOWN"
                    };
                    (format!("{word}: {code} {msg}"), String::new())
                }
            };
            t.add_row([
                marker.to_owned(),
                (i + 1).to_string(),
                n.name.clone(),
                n.endpoint(),
                n.user.clone(),
                state,
                version,
            ]);
        }
        self.show(&format!("{t}\n")).await;
    }

    fn find_node(&self, target: &str) -> Option<usize> {
        self.nodes
            .iter()
            .position(|n| n.name == target)
            .or_else(|| self.nodes.iter().position(|n| n.endpoint() == target))
            .or_else(|| {
                target
                    .parse::<usize>()
                    .ok()
                    .filter(|i| (1..=self.nodes.len()).contains(i))
                    .map(|i| i - 1)
            })
    }

    async fn use_node(&mut self, target: &str, origin: &Origin) -> Flow {
        let Some(i) = self.find_node(target) else {
            let names: Vec<&str> = self.nodes.iter().map(|n| n.name.as_str()).collect();
            return self
                .error(&format!(
                    "ERROR: no node '{target}' (nodes: {}; see \\nodes)",
                    names.join(", ")
                ))
                .await;
        };
        if i != self.current {
            if let Some(c) = self.conn.take() {
                c.close().await;
            }
            self.current = i;
        }
        let n = self.node().clone();
        match self.connect().await {
            Ok(_) => {
                out(&format!("Now on {} ({}).\n", n.name, n.endpoint())).await;
                Flow::Continue
            }
            Err(e) => {
                out(&format!(
                    "Now on {} ({}), not connected.\n",
                    n.name,
                    n.endpoint()
                ))
                .await;
                self.client_error(&e, Phase::Connect, origin).await
            }
        }
    }

    async fn all(&mut self, sql: &str, vertical: bool, origin: &Origin) -> Flow {
        let timeout = self.opts.connect_timeout;
        let schema = self.opts.database.as_deref();
        let at = self.location(origin);
        let runs = self.nodes.iter().map(|n| async move {
            let started = Instant::now();
            let r = async {
                let mut c = open(n, timeout, schema)
                    .await
                    .map_err(|e| (Phase::Connect, e))?;
                let o = conn::execute_text(&mut c, sql)
                    .await
                    .map_err(|e| (Phase::Query, e));
                if o.as_ref().map_or_else(|(_, e)| !e.is_fatal(), |_| true) {
                    c.close().await;
                }
                o
            }
            .await;
            (r, started.elapsed())
        });
        let Some(answers): Option<Vec<NodeAnswer>> =
            interruptible(self.opts.interactive, join_all(runs)).await
        else {
            err("Ctrl-C -- \\all aborted (its connections were dropped)\n").await;
            return Flow::Continue;
        };
        let mut failed = Vec::new();
        if self.opts.interactive || self.opts.table {
            let mut text = String::new();
            for (n, (r, elapsed)) in self.nodes.iter().zip(&answers) {
                text.push_str(&format!("{} ({}):\n", n.name, n.endpoint()));
                match r {
                    Ok(o) => text.push_str(&self.render_outcome(o, vertical, *elapsed, &n.name)),
                    Err((phase, e)) => {
                        failed.push(render::error_line(e, *phase, &n.endpoint(), None));
                        text.push_str(&with_newline(render::error_line(
                            e,
                            *phase,
                            &n.endpoint(),
                            None,
                        )));
                        text.push('\n');
                    }
                }
            }
            if sql
                .to_ascii_lowercase()
                .contains("runtime_checksums_values")
            {
                let named: Vec<(String, Option<&ResultSet>)> = self
                    .nodes
                    .iter()
                    .zip(&answers)
                    .map(|(n, (r, _))| (n.name.clone(), r.as_ref().ok().map(|o| &o.result)))
                    .collect();
                if let Some(m) = Matrix::from_resultsets(&named) {
                    text.push_str("Merged across nodes:\n");
                    text.push_str(&render::checksum_table(&m));
                    if m.any_differs() {
                        text.push_str(render::CHECKSUM_LEGEND);
                        text.push('\n');
                    }
                    text.push('\n');
                }
            }
            self.show(&text).await;
        } else {
            // Scripts get one tab-separated stream with the node as the first column.
            let mut text = String::new();
            let mut last_header: Option<&[String]> = None;
            for (n, (r, _)) in self.nodes.iter().zip(&answers) {
                match r {
                    Ok(o) if o.result.columns.is_empty() => {}
                    Ok(o) if vertical => {
                        text.push_str(&format!("{}:\n", n.name));
                        text.push_str(&render::vertical(&o.result));
                    }
                    Ok(o) => {
                        if self.opts.header && last_header != Some(&o.result.columns[..]) {
                            let mut h = vec!["node".to_owned()];
                            h.extend(o.result.columns.iter().map(|c| render::tsv_field(Some(c))));
                            text.push_str(&h.join("\t"));
                            text.push('\n');
                            last_header = Some(&o.result.columns);
                        }
                        for row in &o.result.rows {
                            let mut f = vec![render::tsv_field(Some(&n.name))];
                            f.extend(row.iter().map(|v| render::tsv_field(v.as_deref())));
                            text.push_str(&f.join("\t"));
                            text.push('\n');
                        }
                    }
                    Err((phase, e)) => failed.push(format!(
                        "{}: {}",
                        n.name,
                        render::error_line(
                            e,
                            *phase,
                            &n.endpoint(),
                            at.as_deref().filter(|_| *phase == Phase::Query)
                        )
                    )),
                }
            }
            self.show(&text).await;
        }
        if failed.is_empty() {
            return Flow::Continue;
        }
        if self.opts.interactive {
            // Already shown inline with each node's answer.
            self.errors += failed.len();
            return Flow::Continue;
        }
        let mut flow = Flow::Continue;
        for f in failed {
            flow = self.error(&f).await;
        }
        flow
    }

    async fn diag(&mut self) -> Flow {
        let polls = self.nodes.iter().map(|n| fetch_snapshot(n, PROBE_TIMEOUT));
        let Some(mut snapshots) = interruptible(self.opts.interactive, join_all(polls)).await
        else {
            err("Ctrl-C -- \\diag aborted\n").await;
            return Flow::Continue;
        };
        // One node tells about its cluster: the peers its proxysql_servers lists are polled too
        // (with its credentials), as `--batch diagnose` does, so a node stuck behind its peers
        // is not reported healthy. A listed peer the shell cannot reach is left out: the node's
        // own view of it still counts.
        let mut discovered = 0;
        if let ([only], Some(servers)) = (
            self.nodes.as_slice(),
            snapshots
                .first()
                .and_then(|s| s.data())
                .and_then(|d| d.proxysql_servers.clone()),
        ) {
            let peers = crate::console::nodes::listed_peers(only, &servers);
            let polls = peers.iter().map(|p| fetch_snapshot(p, PROBE_TIMEOUT));
            let Some(extra) = interruptible(self.opts.interactive, join_all(polls)).await else {
                err("Ctrl-C -- \\diag aborted\n").await;
                return Flow::Continue;
            };
            for snap in extra.into_iter().filter(|s| s.error().is_none()) {
                snapshots.push(snap);
                discovered += 1;
            }
        }
        // The layers (MEMORY/RUNTIME/DISK) of the reachable nodes: "edited but not loaded"
        // and "loaded but not saved" are findings too (issue #15).
        let reads = self
            .nodes
            .iter()
            .zip(&snapshots)
            .filter(|(_, s)| s.data().is_some())
            .map(|(n, _)| fetch_layers(n, PROBE_TIMEOUT));
        let Some(layers) = interruptible(self.opts.interactive, join_all(reads)).await else {
            err("Ctrl-C -- \\diag aborted\n").await;
            return Flow::Continue;
        };
        let layers: Vec<_> = layers.into_iter().filter_map(Result::ok).collect();
        let findings = diagnose_with_layers(&snapshots, &layers);
        let mut text = report::findings_text(&findings);
        if discovered > 0 {
            text.push_str(&format!(
                "(with {discovered} peer(s) listed in its proxysql_servers)\n"
            ));
        }
        self.show(&text).await;
        Flow::Continue
    }

    /// A one-shot traffic table of every node, as `pxadm --batch <kind>` prints it.
    async fn top(&mut self, kind: crate::console::batch::traffic::Kind, arg: &str) -> Flow {
        use crate::console::batch::traffic::{report, Kind, Options};
        let mut o = Options {
            interval: Duration::from_secs(1),
            top: Some(20),
            ..Options::default()
        };
        match kind {
            Kind::Processlist => o.filter = arg.to_owned(),
            Kind::Digest if !arg.is_empty() => o.sort = Some(arg.to_owned()),
            _ => {}
        }
        let run = report(kind, &self.nodes, &o, PROBE_TIMEOUT);
        match interruptible(self.opts.interactive, run).await {
            None => {
                err(&format!("Ctrl-C -- \\{} aborted\n", kind.name())).await;
                Flow::Continue
            }
            Some(Err(e)) => self.error(&format!("ERROR: {e}")).await,
            Some(Ok(r)) => {
                self.show(&r.render(crate::console::batch::Format::Table))
                    .await;
                Flow::Continue
            }
        }
    }

    async fn source(&mut self, path: &Path) -> Flow {
        if self.depth >= MAX_SOURCE_DEPTH {
            return self
                .error(&format!(
                    "ERROR: \\source nested more than {MAX_SOURCE_DEPTH} deep at '{}'",
                    path.display()
                ))
                .await;
        }
        let text = match tokio::fs::read_to_string(path).await {
            Ok(t) => t,
            Err(e) => {
                return self
                    .error(&format!(
                        "ERROR: Failed to open file '{}': {e}",
                        path.display()
                    ))
                    .await
            }
        };
        self.depth += 1;
        let flow = self.run_script(&text, Some(path)).await;
        self.depth -= 1;
        flow
    }

    /// Shows a result (through the pager at the prompt) and appends it to the tee file.
    async fn show(&mut self, text: &str) {
        self.tee_text(text);
        let pager = self.pager.clone().filter(|_| self.opts.interactive);
        let Some(command) = pager else {
            out(text).await;
            return;
        };
        let bytes = text.as_bytes().to_vec();
        let ran = tokio::task::spawn_blocking(move || run_pager(&command, &bytes)).await;
        match ran {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                err(&format!(
                    "pxadm: the pager failed ({e}); showing the result here\n"
                ))
                .await;
                out(text).await;
            }
            Err(e) => err(&format!("pxadm: the pager failed: {e}\n")).await,
        }
    }

    /// A message of the shell itself: shown and teed, never paged.
    async fn say(&mut self, text: &str) {
        self.tee_text(text);
        out(text).await;
    }

    /// Appends to the tee file, if one is open; a failing file is closed with a message.
    pub fn tee_text(&mut self, text: &str) {
        use std::io::Write;
        let Some((path, file)) = self.tee.as_mut() else {
            return;
        };
        if let Err(e) = file.write_all(text.as_bytes()) {
            let _ = writeln!(
                std::io::stderr(),
                "pxadm: cannot write to '{}': {e}; outfile disabled",
                path.display()
            );
            self.tee = None;
        }
    }

    async fn set_pager(&mut self, command: Option<String>) {
        if !self.opts.interactive {
            // As in the mysql client: a script's output is never paged.
            return;
        }
        match command.or_else(|| self.opts.default_pager.clone()) {
            Some(c) => {
                self.say(&format!("PAGER set to '{c}'\n")).await;
                self.pager = Some(c);
            }
            None => {
                self.pager = None;
                self.say("Default pager wasn't set, using stdout.\n").await;
            }
        }
    }

    async fn set_tee(&mut self, file: Option<PathBuf>) -> Flow {
        let Some(path) = file.or_else(|| self.tee.as_ref().map(|(p, _)| p.clone())) else {
            return self.error("No outfile specified!").await;
        };
        let opened = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path);
        match opened {
            Ok(f) => {
                out(&format!("Logging to file '{}'\n", path.display())).await;
                self.tee = Some((path, f));
                Flow::Continue
            }
            Err(e) => {
                self.error(&format!("Error logging to file '{}': {e}", path.display()))
                    .await
            }
        }
    }

    /// `\s`: what the mysql client's `status` shows, for the current node.
    async fn status(&mut self) -> String {
        // The client asks the server for the database and user; a node that cannot answer
        // leaves them blank rather than failing the command.
        let mut answers = Vec::new();
        for sql in queries::SESSION_STATUS {
            let answer = match self.connect().await {
                Ok(c) => conn::query_text(c, sql)
                    .await
                    .ok()
                    .and_then(|rs| rs.rows.into_iter().next())
                    .and_then(|row| row.into_iter().next().flatten()),
                Err(_) => None,
            };
            answers.push(answer.unwrap_or_default());
        }
        let [database, user, version] = <[String; 3]>::try_from(answers).unwrap_or_default();
        let n = self.node();
        let id = self
            .conn
            .as_ref()
            .map_or_else(|| "not connected".to_owned(), |c| c.id().to_string());
        let tee = self
            .tee
            .as_ref()
            .map(|(p, _)| p.display().to_string())
            .unwrap_or_default();
        let lines = [
            ("Connection id:", id),
            (
                "Current node:",
                format!("{} ({} of {})", n.name, self.current + 1, self.nodes.len()),
            ),
            ("Current database:", database),
            ("Current user:", user),
            ("SSL:", "Not in use".to_owned()),
            (
                "Current pager:",
                self.pager.clone().unwrap_or_else(|| "stdout".to_owned()),
            ),
            ("Using outfile:", format!("'{tee}'")),
            ("Using delimiter:", ";".to_owned()),
            ("Server version:", version),
            ("Connection:", format!("{} via TCP/IP", n.host)),
            ("TCP port:", n.port.to_string()),
            ("Timing:", if self.timing { "on" } else { "off" }.to_owned()),
        ];
        let mut text = format!(
            "--------------\npxadm {}, the admin shell\n\n",
            env!("CARGO_PKG_VERSION")
        );
        for (label, value) in lines {
            // The client's layout: values in a column at tab stop 24.
            let tabs = "\t".repeat(24usize.saturating_sub(label.len()).div_ceil(8));
            text.push_str(&format!("{label}{tabs}{value}\n"));
        }
        text.push_str("--------------\n\n");
        text
    }

    async fn system(&mut self, command: &str) -> Flow {
        if command.is_empty() {
            return self.error("Usage: \\! shell-command").await;
        }
        let c = command.to_owned();
        let ran = tokio::task::spawn_blocking(move || {
            std::process::Command::new("sh").arg("-c").arg(&c).status()
        })
        .await;
        match ran {
            Ok(Ok(_)) => Flow::Continue,
            Ok(Err(e)) => {
                self.error(&format!("ERROR: cannot run '{command}': {e}"))
                    .await
            }
            Err(e) => {
                self.error(&format!("ERROR: cannot run '{command}': {e}"))
                    .await
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        if let Some(c) = self.conn.take() {
            c.close().await;
        }
    }
}

/// Writes `bytes` into `sh -c COMMAND` and waits for it, like the mysql client's `popen`. A
/// pager quit early (`q` in less) closes its input: that is not an error.
fn run_pager(command: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        match stdin.write_all(bytes) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e),
            _ => {}
        }
    }
    let status = child.wait()?;
    // 127: the shell found no such command; the result must not be lost then.
    if status.code() == Some(127) {
        return Err(std::io::Error::other(format!("'{command}' not found")));
    }
    Ok(())
}
