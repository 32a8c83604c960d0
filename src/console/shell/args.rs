//! The mysql client's spellings of the connection flags, mapped onto clap's.
//!
//! clap reserves `-h` for help and gives every value-taking flag a required value, while DBAs
//! type `-h 127.0.0.1` and a bare `-p` to be asked for the password. Before clap sees the
//! command line: a bare `-p` / `--password` becomes the hidden `--ask-password` flag (a
//! password is only ever attached, `-pSECRET` or `--password=SECRET`, as in the mysql client),
//! and `-h HOST` / `-hHOST` become `-H HOST` / `-HHOST` unless nothing (or a flag, or a
//! subcommand name) follows, in which case `-h` still means help.

use std::ffi::OsString;

/// The hidden flag a bare `-p` turns into.
pub const ASK_PASSWORD: &str = "--ask-password";

/// Rewrites `args` (program name first) as described in the module docs. `subcommands` are
/// the names that can never be a host after `-h`.
pub fn mysql_style(args: Vec<OsString>, subcommands: &[&str]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter().peekable();
    if let Some(program) = iter.next() {
        out.push(program);
    }
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        match text {
            "--" => {
                out.push(arg);
                out.extend(iter);
                break;
            }
            "-p" | "--password" => out.push(ASK_PASSWORD.into()),
            "-h" => {
                let host_follows = iter
                    .peek()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| !n.starts_with('-') && !subcommands.contains(&n));
                out.push(if host_follows { "-H".into() } else { arg });
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
