//! `pxadm shell`: the `Admin>` prompt DBAs know from `mysql --prompt='Admin> '`, for one node or
//! a whole cluster, plus `pxadm -e SQL` and `pxadm shell < script.sql`.
//!
//! - On a terminal: a rustyline editor with history (`$XDG_DATA_HOME/pxadm/shell_history`,
//!   minus lines holding passwords), completion ([`complete`]), multi-line statements, `\G`,
//!   Ctrl-C cancelling the running statement and Ctrl-D leaving.
//! - Otherwise stdin is a script, run like `mysql < file.sql`: tab-separated results, the first
//!   error stops it (`-f` goes on) and sets exit status 1.
//! - `-e SQL` runs the given statements the same way (boxed tables when stdout is a terminal).
//!
//! The node list comes from the shared resolver ([`crate::console::nodes`]): mysql-style
//! `-u/-p/-h/-P` with `~/.my.cnf` and `MYSQL_PWD`, `-n user:pass@host:port`, `--cluster` or
//! `--discover`. Passwords are never printed, logged or kept in the history.

pub mod args;
pub mod complete;
pub mod input;
pub mod password;
pub mod render;
pub mod session;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config as EditorConfig, Editor};
use tokio::io::AsyncBufReadExt;

use crate::client::conn::NodeAddr;
use crate::console::batch::Exit;
use crate::console::config::{data_dir, Config};
use crate::console::nodes::{resolve_nodes, NodeArgs};
use crate::console::option_files;
use complete::{ShellHelper, Vocabulary};
use input::{is_secret, Accumulator, Item, Meta};
use session::{err, out, Flow, Options, ShellSession};

/// `pxadm shell` arguments (also accepted before any subcommand, for `pxadm -e SQL`).
#[derive(Debug, Clone, clap::Args)]
pub struct ShellArgs {
    /// Which nodes: mysql-style -u/-p/-h/-P, or -n, --cluster, --discover.
    #[command(flatten)]
    pub nodes: NodeArgs,
    /// Prompt; `\h` host, `\p` port, `\u` user, `\N` node name.
    #[arg(long, default_value = DEFAULT_PROMPT)]
    pub prompt: String,
    /// Run these statements and exit (like `mysql -e`).
    #[arg(short = 'e', long = "execute", value_name = "SQL")]
    pub execute: Option<String>,
    /// Boxed tables even when not on a terminal (like `mysql -t`).
    #[arg(short = 't', long)]
    pub table: bool,
    /// No column names, in tab-separated output and in `\G` records (like `mysql -N`).
    #[arg(short = 'N', long = "skip-column-names")]
    pub skip_column_names: bool,
    /// Every result as `\G` records (like `mysql -E`).
    #[arg(short = 'E', long = "vertical")]
    pub vertical: bool,
    /// Fewer messages; tab-separated output without column names (like `mysql -s`).
    #[arg(short = 's', long = "silent", action = clap::ArgAction::Count)]
    pub silent: u8,
    /// Tab-separated values as they are, without escaping tabs, newlines and backslashes
    /// (like `mysql -r`).
    #[arg(short = 'r', long = "raw")]
    pub raw: bool,
    /// Database to send at login (like `mysql -D`; ProxySQL's admin accepts and ignores it).
    #[arg(short = 'D', long = "database", value_name = "NAME")]
    pub database: Option<String>,
    /// The mysql client's word after a bare `-p` (`-p admin`): the database.
    #[arg(long = "database-after-password", hide = true, value_name = "NAME")]
    pub database_after_password: Option<String>,
    /// Results at the prompt through this pager (like `mysql --pager`; without a command,
    /// `$PAGER`).
    #[arg(long, value_name = "COMMAND", num_args = 0..=1)]
    pub pager: Option<Option<String>>,
    /// Print the options read from the option files, as `mariadb --print-defaults` does, and
    /// exit.
    #[arg(long = "print-defaults")]
    pub print_defaults: bool,
    /// Go on after an error in a script (like `mysql -f`).
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Seconds to wait for a connection.
    #[arg(long = "connect-timeout", value_name = "SECONDS", default_value_t = 10)]
    pub connect_timeout: u64,
    /// Set for a bare `-p`: ask for the password on the terminal.
    #[arg(long = "ask-password", hide = true)]
    pub ask_password: bool,
}

impl ShellArgs {
    /// True when a connection option was given (`-u`, a bare `-p`, `-h`, `-P`, `-n`, `--cluster`,
    /// `--discover`, `-D`): `pxadm -B` with one of them is the mysql client's `-B`.
    pub fn targets_a_node(&self) -> bool {
        let n = &self.nodes;
        // Not the password: MYSQL_PWD in the environment sets it without any intent.
        n.user.is_some()
            || n.host.is_some()
            || n.port.is_some()
            || !n.nodes.is_empty()
            || n.cluster.is_some()
            || n.discover.is_some()
            || self.database.is_some()
            || self.ask_password
    }
}

/// The prompt unless `--prompt` or an option file's `prompt` says otherwise.
const DEFAULT_PROMPT: &str = "Admin> ";
/// The continuation prompt of a statement spanning lines, as in the mysql client.
const CONTINUATION: &str = "    -> ";
/// Entries kept in the history file.
const HISTORY_SIZE: usize = 1000;

pub use password::ask_password_if_needed;

/// Fills what the command line left unset from the mysql client's option files (the
/// command line wins, as for the client, which reads the files as leading arguments).
fn apply_option_files(args: &mut ShellArgs, options: &[option_files::ClientOption]) {
    let flag = |key| option_files::flag(options, key);
    args.vertical |= flag("vertical");
    args.raw |= flag("raw");
    args.table |= flag("table");
    args.force |= flag("force");
    args.skip_column_names |= flag("skip-column-names");
    if args.silent == 0 && flag("silent") {
        args.silent = 1;
    }
    if args.database.is_none() {
        args.database = option_files::value(options, "database").map(str::to_owned);
    }
    if args.pager.is_none() && option_files::flag_or_value(options, "pager") {
        args.pager = Some(option_files::value(options, "pager").map(str::to_owned));
    }
    if let Some(prompt) = option_files::value(options, "prompt") {
        if args.prompt == DEFAULT_PROMPT {
            args.prompt = prompt.to_owned();
        }
    }
}

/// Loads the config and resolves the node list; errors are printed and become `Exit(code)`.
pub async fn resolve(nodes: &NodeArgs, code: u8) -> Result<Vec<NodeAddr>, Exit> {
    let path = nodes.config.clone();
    let config = tokio::task::spawn_blocking(move || Config::load(path.as_deref()))
        .await
        .map_err(|e| anyhow::anyhow!("config loader failed: {e}"));
    let config = match config {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            err(&format!("pxadm: {e}\n")).await;
            return Err(Exit(code));
        }
        Err(e) => {
            err(&format!("pxadm: {e}\n")).await;
            return Err(Exit(code));
        }
    };
    match resolve_nodes(nodes, &config).await {
        Ok(list) if list.is_empty() => {
            err("pxadm: no nodes to connect to\n").await;
            Err(Exit(code))
        }
        Ok(list) => Ok(list.into_iter().map(|n| n.addr).collect()),
        Err(e) => {
            err(&format!("pxadm: {e}\n")).await;
            Err(Exit(code))
        }
    }
}

/// Runs the shell: interactive on a terminal (unless `batch`, i.e. `pxadm --batch shell`), a
/// script otherwise, or `-e`. Failures are reported on stderr and returned as [`Exit`]
/// (status 1, like the mysql client).
pub async fn run(mut args: ShellArgs, batch: bool) -> anyhow::Result<()> {
    let options = match option_files::loaded() {
        Ok(o) => o,
        Err(e) => {
            err(&format!("pxadm: {e}\n")).await;
            return Err(Exit(1).into());
        }
    };
    if args.print_defaults {
        out(&option_files::print_defaults("pxadm", options)).await;
        return Ok(());
    }
    apply_option_files(&mut args, options);
    let batch = batch || option_files::flag(options, "batch");
    if let Some(db) = args.database_after_password.take() {
        err(&format!(
            "pxadm: '{db}' after -p is the database, as for the mysql client; a password goes \
             right after -p (-p{db}, --password={db})\n"
        ))
        .await;
        args.database.get_or_insert(db);
    }
    ask_password_if_needed(args.ask_password, &mut args.nodes).await?;
    let nodes = resolve(&args.nodes, 1).await?;
    let vocab = Arc::new(RwLock::new(Vocabulary::default()));
    let stdin_tty = std::io::stdin().is_terminal();
    let interactive = args.execute.is_none() && stdin_tty && !batch;
    let opts = Options {
        interactive,
        // Like the mysql client: boxes for -e on a terminal unless -B; -t always.
        table: args.table || (args.execute.is_some() && std::io::stdout().is_terminal() && !batch),
        // -s drops the column names of tab-separated output (boxes and \G keep them).
        header: !args.skip_column_names && args.silent == 0,
        names: !args.skip_column_names,
        vertical: args.vertical,
        raw: args.raw,
        database: args.database.clone(),
        default_pager: args
            .pager
            .clone()
            .flatten()
            .or_else(|| std::env::var("PAGER").ok().filter(|p| !p.is_empty())),
        pager: match &args.pager {
            Some(Some(p)) => Some(p.clone()),
            Some(None) => std::env::var("PAGER").ok().filter(|p| !p.is_empty()),
            None => None,
        },
        force: args.force,
        connect_timeout: Duration::from_secs(args.connect_timeout.max(1)),
    };
    let mut session = ShellSession::new(nodes, opts, vocab.clone());
    let flow = if let Some(sql) = args.execute.clone() {
        session.run_script(&sql, None).await
    } else if interactive {
        interactive_loop(&mut session, &args.prompt, vocab).await?
    } else {
        piped(&mut session).await?
    };
    let failed = session.errors() > 0 && !interactive;
    session.close().await;
    if flow == Flow::Abort || failed {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// `mysql < file.sql`: statements stream from stdin as they arrive.
async fn piped(session: &mut ShellSession) -> anyhow::Result<Flow> {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut acc = Accumulator::new();
    while let Some(line) = lines.next_line().await? {
        for item in acc.feed(&line) {
            match session.run_item(item, None).await {
                Flow::Continue => {}
                other => return Ok(other),
            }
        }
    }
    for item in acc.finish() {
        match session.run_item(item, None).await {
            Flow::Continue => {}
            other => return Ok(other),
        }
    }
    Ok(Flow::Continue)
}

/// Expands the prompt's escapes for the current node.
pub fn expand_prompt(template: &str, node: &NodeAddr) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(&node.host),
            Some('p') => out.push_str(&node.port.to_string()),
            Some('u') => out.push_str(&node.user),
            Some('N') => out.push_str(&node.name),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `\e`: writes `text` to a private temporary file, opens it in `$VISUAL`, `$EDITOR` or `vi`
/// (through `sh`, so an editor given with options works) and returns what was saved.
async fn edit_in_editor(text: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        use std::io::Write;
        let mut file = tempfile::Builder::new()
            .prefix("pxadm-edit-")
            .suffix(".sql")
            .tempfile()?;
        writeln!(file, "{text}")?;
        file.flush()?;
        let editor = ["VISUAL", "EDITOR"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
            .unwrap_or_else(|| "vi".to_owned());
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("sh")
            .arg(file.path())
            .status()
            .map_err(|e| anyhow::anyhow!("cannot run '{editor}': {e}"))?;
        if !status.success() {
            anyhow::bail!("'{editor}' exited with {status}; the statement is unchanged");
        }
        Ok(std::fs::read_to_string(file.path())?)
    })
    .await?
}

/// The rustyline editor, moved to a blocking thread for each read so the runtime never waits
/// on the keyboard.
struct LineEditor {
    editor: Option<Editor<ShellHelper, DefaultHistory>>,
    history: Option<PathBuf>,
}

impl LineEditor {
    fn new(vocab: complete::SharedVocabulary) -> anyhow::Result<LineEditor> {
        let config = EditorConfig::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(false)
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .max_history_size(HISTORY_SIZE)?
            .build();
        let mut editor = Editor::with_config(config)?;
        editor.set_helper(Some(ShellHelper::new(vocab)));
        Ok(LineEditor {
            editor: Some(editor),
            history: data_dir().map(|d| d.join("shell_history")),
        })
    }

    async fn load_history(&mut self) {
        let (Some(mut ed), Some(path)) = (self.editor.take(), self.history.clone()) else {
            return;
        };
        let ed = tokio::task::spawn_blocking(move || {
            // A first run has no file yet; an unreadable one just means no history.
            let _ = ed.load_history(&path);
            ed
        })
        .await;
        self.editor = ed.ok();
    }

    async fn read(&mut self, prompt: String) -> anyhow::Result<Result<String, ReadlineError>> {
        let mut ed = self
            .editor
            .take()
            .ok_or_else(|| anyhow::anyhow!("line editor lost"))?;
        let (ed, line) = tokio::task::spawn_blocking(move || {
            let r = ed.readline(&prompt);
            (ed, r)
        })
        .await?;
        self.editor = Some(ed);
        Ok(line)
    }

    fn remember(&mut self, entry: &str) {
        if entry.trim().is_empty() || is_secret(entry) {
            return;
        }
        if let Some(ed) = self.editor.as_mut() {
            let _ = ed.add_history_entry(entry);
        }
    }

    async fn save_history(&mut self) {
        let (Some(mut ed), Some(path)) = (self.editor.take(), self.history.clone()) else {
            return;
        };
        let saved = tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            ed.save_history(&path).map_err(std::io::Error::other)?;
            // History can reveal cluster layout: keep it private like ~/.mysql_history.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
        })
        .await;
        if let Ok(Err(e)) = saved {
            err(&format!("pxadm: could not save the history: {e}\n")).await;
        }
    }
}

async fn interactive_loop(
    session: &mut ShellSession,
    prompt: &str,
    vocab: complete::SharedVocabulary,
) -> anyhow::Result<Flow> {
    let node = session.node().clone();
    match session.server_version().await {
        Ok(version) => {
            out(&format!(
                "Connected to {} ({}) as {}, server version {version}.\n",
                node.name,
                node.endpoint(),
                node.user
            ))
            .await
        }
        Err(e) => {
            let line = render::error_line(&e, render::Phase::Connect, &node.endpoint(), None);
            err(&format!("{line}\n")).await;
            if vocab.read().nodes.len() == 1 {
                return Ok(Flow::Abort);
            }
        }
    }
    let names = vocab.read().nodes.join(", ");
    out(&format!(
        "Nodes: {names}. Type \\help for help, \\q or Ctrl-D to leave.\n\n"
    ))
    .await;

    let mut editor = LineEditor::new(vocab)?;
    editor.load_history().await;
    let mut acc = Accumulator::new();
    let mut typed: Vec<String> = Vec::new();
    let mut flow = Flow::Continue;
    while flow == Flow::Continue {
        let p = if acc.is_empty() {
            expand_prompt(prompt, session.node())
        } else {
            CONTINUATION.to_owned()
        };
        match editor.read(p.clone()).await? {
            Ok(line) => {
                session.tee_text(&format!("{p}{line}\n"));
                typed.push(line.clone());
                let items = acc.feed(&line);
                if acc.is_empty() {
                    editor.remember(&typed.join(" "));
                    typed.clear();
                }
                for item in items {
                    if let Item::Meta {
                        meta: Meta::Edit(text),
                        ..
                    } = &item
                    {
                        let text = if text.is_empty() {
                            acc.last_statement().to_owned()
                        } else {
                            text.clone()
                        };
                        match edit_in_editor(text.clone()).await {
                            Ok(edited) => acc.load(&edited),
                            Err(e) => {
                                // What was typed is kept, as if \\e had not been asked for.
                                acc.load(&text);
                                err(&format!("pxadm: \\e: {e}\n")).await
                            }
                        }
                        continue;
                    }
                    flow = session.run_item(item, None).await;
                    if flow != Flow::Continue {
                        break;
                    }
                }
            }
            // Ctrl-C at the prompt abandons what was typed, as in the mysql client.
            Err(ReadlineError::Interrupted) => {
                acc.clear();
                typed.clear();
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                editor.save_history().await;
                return Err(e.into());
            }
        }
    }
    editor.save_history().await;
    out("Bye\n").await;
    // Leaving the interactive shell is never a failure.
    Ok(Flow::Quit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_escapes() {
        let n = NodeAddr {
            name: "node2".into(),
            host: "127.0.0.1".into(),
            port: 16032,
            user: "radmin".into(),
            password: "secret".into(),
        };
        assert_eq!(expand_prompt("Admin> ", &n), "Admin> ");
        assert_eq!(
            expand_prompt("\\u@\\h:\\p [\\N]\\\\ \\x> ", &n),
            "radmin@127.0.0.1:16032 [node2]\\ \\x> "
        );
        assert_eq!(expand_prompt("trailing\\", &n), "trailing\\");
    }
}
