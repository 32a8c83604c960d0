//! The mysql client's spellings of the connection flags, mapped onto clap's.
//!
//! clap reserves `-h` for help and gives every value-taking flag a required value, while DBAs
//! type `-h 127.0.0.1` and a bare `-p` to be asked for the password. Before clap sees the
//! command line: a bare `-p` / `--password` becomes the hidden `--ask-password` flag (a
//! password is only ever attached, `-pSECRET` or `--password=SECRET`, as in the mysql client),
//! and `-h HOST` / `-hHOST` become `-H HOST` / `-HHOST` unless nothing (or a flag, or a
//! subcommand name) follows, in which case `-h` still means help.
//!
//! `-p admin` (with a space) is what the mysql client reads as "ask for the password, and use
//! the database `admin`": in the shell (`pxadm -e`, `pxadm shell`) it becomes the hidden
//! `--database-after-password admin`, so pxadm asks for the password like the client and says
//! on stderr that a password goes right after `-p` (`-padmin`).

use std::ffi::OsString;

/// The hidden flag a bare `-p` turns into.
pub const ASK_PASSWORD: &str = "--ask-password";
/// The hidden option a mysql client TLS option turns into (refused with an explanation).
pub const TLS_OPTION: &str = "--mysql-tls-option";

/// The mysql client's TLS options that take a value.
const TLS_WITH_VALUE: &[&str] = &[
    "--ssl-ca",
    "--ssl-capath",
    "--ssl-cert",
    "--ssl-cipher",
    "--ssl-key",
    "--ssl-crl",
    "--ssl-crlpath",
    "--tls-version",
];

/// The hidden option the word after a bare `-p` turns into in the shell (the mysql client's
/// database argument).
pub const DATABASE_AFTER_PASSWORD: &str = "--database-after-password";

/// `--login-path=NAME` (or `--login-path NAME`) among `args`, the last one given.
pub fn login_path_choice(args: &[OsString]) -> Option<String> {
    let mut found = None;
    let mut iter = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        if arg == "--login-path" {
            found = iter.next().map(str::to_owned);
        } else if let Some(v) = arg.strip_prefix("--login-path=") {
            found = Some(v.to_owned());
        }
    }
    found
}

/// `--no-defaults`, `--defaults-file=F` or `--defaults-extra-file=F` among `args` (program
/// name first), as the mysql client takes them: the last one given wins.
pub fn option_file_choice(args: &[OsString]) -> crate::console::option_files::Defaults {
    use crate::console::option_files::Defaults;
    let mut choice = Defaults::Standard;
    let mut iter = args.iter().skip(1).filter_map(|a| a.to_str());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            break;
        }
        let mut value = |name: &str| -> Option<String> {
            if arg == name {
                iter.next().map(str::to_owned)
            } else {
                arg.strip_prefix(name)?.strip_prefix('=').map(str::to_owned)
            }
        };
        if arg == "--no-defaults" {
            choice = Defaults::None;
        } else if let Some(f) = value("--defaults-file") {
            choice = Defaults::Only(f.into());
        } else if let Some(f) = value("--defaults-extra-file") {
            choice = Defaults::Extra(f.into());
        }
    }
    choice
}

/// Rewrites `args` (program name first) as described in the module docs. `subcommands` are
/// the names that can never be a host after `-h`.
pub fn mysql_style(args: Vec<OsString>, subcommands: &[&str]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter().peekable();
    if let Some(program) = iter.next() {
        out.push(program);
    }
    // The first subcommand name seen; `None` or `shell` is the shell, where a word after `-p`
    // is the database.
    let mut subcommand: Option<String> = None;
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if subcommand.is_none() && subcommands.contains(&text) {
            subcommand = Some(text.to_owned());
        }
        match text {
            "--" => {
                out.push(arg);
                out.extend(iter);
                break;
            }
            "-p" | "--password" => {
                out.push(ASK_PASSWORD.into());
                let in_shell = subcommand.as_deref().is_none_or(|s| s == "shell");
                let database_follows = iter
                    .peek()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('-') && !subcommands.contains(&n));
                if in_shell && database_follows {
                    out.push(DATABASE_AFTER_PASSWORD.into());
                }
            }
            "-h" => {
                let host_follows = iter
                    .peek()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('-') && !subcommands.contains(&n));
                out.push(if host_follows { "-H".into() } else { arg });
            }
            // Turning TLS off is what pxadm does anyway (DBAs add it for newer clients).
            "--skip-ssl" | "--disable-ssl" | "--ssl=0" | "--ssl=OFF" | "--ssl=off" => {}
            t if t == "--ssl"
                || t.starts_with("--ssl=")
                || t.starts_with("--ssl-")
                || t.starts_with("--tls-version") =>
            {
                let mut given = t.to_owned();
                if TLS_WITH_VALUE.contains(&t) {
                    if let Some(value) =
                        iter.next_if(|n| n.to_str().is_some_and(|n| !n.starts_with('-')))
                    {
                        given = format!("{t} {}", value.to_string_lossy());
                    }
                }
                out.push(format!("{TLS_OPTION}={given}").into());
            }
            t if t.starts_with("-h") && !t.starts_with("--") => {
                out.push(format!("-H{}", &t[2..]).into());
            }
            _ => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Vec<String> {
        let args = line.split(' ').map(OsString::from).collect();
        mysql_style(args, &["shell", "status"])
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn password_prompt_and_attached_passwords() {
        assert_eq!(
            run("pxadm shell -u admin -p"),
            ["pxadm", "shell", "-u", "admin", "--ask-password"]
        );
        assert_eq!(
            run("pxadm shell -p -P 6032"),
            ["pxadm", "shell", "--ask-password", "-P", "6032"]
        );
        assert_eq!(run("pxadm shell -padmin"), ["pxadm", "shell", "-padmin"]);
        assert_eq!(
            run("pxadm shell --password=x"),
            ["pxadm", "shell", "--password=x"]
        );
    }

    #[test]
    fn a_word_after_a_bare_p_is_the_database_in_the_shell() {
        assert_eq!(
            run("pxadm -u admin -p admin -e x"),
            [
                "pxadm",
                "-u",
                "admin",
                "--ask-password",
                DATABASE_AFTER_PASSWORD,
                "admin",
                "-e",
                "x"
            ]
        );
        assert_eq!(
            run("pxadm shell -p admin"),
            [
                "pxadm",
                "shell",
                "--ask-password",
                DATABASE_AFTER_PASSWORD,
                "admin"
            ]
        );
        assert_eq!(run("pxadm -p shell"), ["pxadm", "--ask-password", "shell"]);
        assert_eq!(
            run("pxadm status -p admin"),
            ["pxadm", "status", "--ask-password", "admin"]
        );
    }

    #[test]
    fn tls_options_are_kept_for_a_clear_refusal_and_skip_ssl_is_dropped() {
        assert_eq!(run("pxadm --skip-ssl -e x --ssl=0"), ["pxadm", "-e", "x"]);
        assert_eq!(
            run("pxadm --ssl-ca /etc/ca.pem -e x"),
            [
                "pxadm",
                "--mysql-tls-option=--ssl-ca /etc/ca.pem",
                "-e",
                "x"
            ]
        );
        assert_eq!(
            run("pxadm shell --ssl"),
            ["pxadm", "shell", "--mysql-tls-option=--ssl"]
        );
    }

    #[test]
    fn option_file_choice_like_the_client() {
        use crate::console::option_files::Defaults;
        let choice = |line: &str| {
            let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
            option_file_choice(&args)
        };
        assert_eq!(choice("pxadm -e x"), Defaults::Standard);
        assert_eq!(choice("pxadm --no-defaults -e x"), Defaults::None);
        assert_eq!(
            choice("pxadm --defaults-file=/a -e x"),
            Defaults::Only("/a".into())
        );
        assert_eq!(
            choice("pxadm --defaults-extra-file /b"),
            Defaults::Extra("/b".into())
        );
        assert_eq!(choice("pxadm -e x -- --no-defaults"), Defaults::Standard);
    }

    #[test]
    fn host_flag_versus_help() {
        assert_eq!(
            run("pxadm shell -h 10.0.0.1"),
            ["pxadm", "shell", "-H", "10.0.0.1"]
        );
        assert_eq!(
            run("pxadm -h127.0.0.1 -e x"),
            ["pxadm", "-H127.0.0.1", "-e", "x"]
        );
        assert_eq!(run("pxadm shell -h"), ["pxadm", "shell", "-h"]);
        assert_eq!(run("pxadm -h shell"), ["pxadm", "-h", "shell"]);
        assert_eq!(
            run("pxadm status -h --format json"),
            ["pxadm", "status", "-h", "--format", "json"]
        );
        assert_eq!(run("pxadm -e -- -p"), ["pxadm", "-e", "--", "-p"]);
    }
}
