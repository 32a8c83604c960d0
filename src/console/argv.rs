//! Passwords out of the process's command line, as the mysql client does: once the arguments
//! are parsed, the password of `-pSECRET`, `--password=SECRET` and the `user:SECRET@host:port`
//! node specs of `-n`/`--node`/`--discover` are overwritten in the argv strings the kernel
//! shows in `/proc/<pid>/cmdline` (and so in `ps`).
//!
//! `std::env::args` hands out owned copies; the strings `ps` reads are the ones the kernel put
//! on the initial stack. glibc passes `(argc, argv, envp)` to every function of `.init_array`
//! (std itself captures argv that way on Linux), so a small entry there keeps the original
//! pointers. Elsewhere (other C libraries, other systems) nothing is captured and masking
//! is a no-op: [`mask_process_args`] says so by returning 0.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// Short flags that take a value (the rest of the argument or the next one).
const SHORT_WITH_VALUE: &[u8] = b"nupHPeDc";
/// Long flags whose value is a node spec.
const LONG_SPEC: &[&str] = &["--node", "--discover"];

/// One overwrite: argument `index`, bytes `start..` of it replaced by `replacement` (never
/// longer than what it replaces; the rest of the span becomes NUL bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Index into argv (0 is the program).
    pub index: usize,
    /// First byte replaced.
    pub start: usize,
    /// Bytes replaced (to the end of the argument).
    pub len: usize,
    /// What is written instead.
    pub replacement: Vec<u8>,
}

/// The password of `-pSECRET`: `x` and NULs, as the mysql client leaves it (`-px`).
fn password_mask(index: usize, start: usize, arg: &[u8]) -> Option<Mask> {
    let len = arg.len().checked_sub(start).filter(|l| *l > 0)?;
    Some(Mask {
        index,
        start,
        len,
        replacement: b"x".to_vec(),
    })
}

/// A node spec: `user:***@host:port` when that fits, else the password's bytes as `x`.
fn spec_mask(index: usize, start: usize, arg: &[u8]) -> Option<Mask> {
    let spec = String::from_utf8_lossy(&arg[start..]).into_owned();
    let masked = super::nodes::masked_node_spec(&spec);
    if masked == spec {
        return None;
    }
    let len = arg.len() - start;
    let replacement = if masked.len() <= len {
        masked.into_bytes()
    } else {
        // A 1-2 character password: keep the length, hide the characters.
        let creds_end = spec.rfind('@').unwrap_or(spec.len());
        let pass_start = spec[..creds_end].find(':').map_or(creds_end, |i| i + 1);
        let mut out = spec.into_bytes();
        for b in &mut out[pass_start..creds_end] {
            *b = b'x';
        }
        out
    };
    Some(Mask {
        index,
        start,
        len,
        replacement,
    })
}

/// Finds the secrets in `args` (program name first), parsing them the way clap does for
/// pxadm's flags: attached or separate values of short flags (also in clusters like `-tpX`),
/// `--long=value` and `--long value`, nothing after `--`.
pub fn secret_masks<S: AsRef<OsStr>>(args: &[S]) -> Vec<Mask> {
    let mut masks = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let arg = args[i].as_ref().as_bytes();
        i += 1;
        if arg == b"--" {
            break;
        }
        if let Some(long) = arg.strip_prefix(b"--") {
            let long = String::from_utf8_lossy(long);
            let (name, has_value) = match long.split_once('=') {
                Some((n, _)) => (format!("--{n}"), true),
                None => (format!("--{long}"), false),
            };
            let value_at = name.len() + 1;
            match (name.as_str(), has_value) {
                ("--password", true) => masks.extend(password_mask(i - 1, value_at, arg)),
                (n, true) if LONG_SPEC.contains(&n) => {
                    masks.extend(spec_mask(i - 1, value_at, arg))
                }
                (n, false) if LONG_SPEC.contains(&n) => {
                    if let Some(next) = args.get(i) {
                        masks.extend(spec_mask(i, 0, next.as_ref().as_bytes()));
                        i += 1;
                    }
                }
                _ => {}
            }
            continue;
        }
        if arg.len() < 2 || arg[0] != b'-' {
            continue;
        }
        // A cluster of short flags: the first that takes a value takes the rest.
        for (pos, flag) in arg.iter().enumerate().skip(1) {
            if !SHORT_WITH_VALUE.contains(flag) {
                continue;
            }
            let attached = pos + 1 < arg.len();
            match (flag, attached) {
                (b'p', true) => masks.extend(password_mask(i - 1, pos + 1, arg)),
                (b'n', true) => masks.extend(spec_mask(i - 1, pos + 1, arg)),
                (b'n', false) => {
                    if let Some(next) = args.get(i) {
                        masks.extend(spec_mask(i, 0, next.as_ref().as_bytes()));
                        i += 1;
                    }
                }
                // A bare -p asks for the password (mysql_style): no value follows.
                (b'p', false) => {}
                // clap never takes a value that starts with '-' for these flags.
                (_, false) => {
                    if args
                        .get(i)
                        .is_some_and(|n| !n.as_ref().as_bytes().starts_with(b"-"))
                    {
                        i += 1;
                    }
                }
                (_, true) => {}
            }
            break;
        }
    }
    masks
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod capture {
    use std::ffi::{c_char, c_int};
    use std::sync::atomic::{AtomicIsize, AtomicPtr, Ordering};

    static ARGC: AtomicIsize = AtomicIsize::new(0);
    static ARGV: AtomicPtr<*mut c_char> = AtomicPtr::new(std::ptr::null_mut());

    /// Called by glibc before `main` with the process's own argc/argv.
    extern "C" fn keep_argv(argc: c_int, argv: *mut *mut c_char, _envp: *mut *mut c_char) {
        ARGC.store(argc as isize, Ordering::Relaxed);
        ARGV.store(argv, Ordering::Relaxed);
    }

    #[used]
    #[link_section = ".init_array"]
    static KEEP_ARGV: extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char) = keep_argv;

    /// The original argv strings, writable in place.
    pub(super) fn args() -> Vec<&'static mut [u8]> {
        // Referenced, so the linker can never leave the .init_array entry out.
        std::hint::black_box(&KEEP_ARGV);
        let argc = ARGC.load(Ordering::Relaxed);
        let argv = ARGV.load(Ordering::Relaxed);
        if argv.is_null() || argc <= 0 {
            return Vec::new();
        }
        (0..argc as usize)
            .filter_map(|i| {
                // SAFETY: glibc's argv has argc valid entries, each a NUL-terminated string
                // on the initial stack that lives (and stays writable) for the whole process.
                // Nothing else in the process writes them; std only reads them when
                // `env::args` is called, and sees the masked text afterwards.
                unsafe {
                    let p = *argv.add(i);
                    if p.is_null() {
                        return None;
                    }
                    let len = std::ffi::CStr::from_ptr(p).to_bytes().len();
                    Some(std::slice::from_raw_parts_mut(p.cast::<u8>(), len))
                }
            })
            .collect()
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod capture {
    pub(super) fn args() -> Vec<&'static mut [u8]> {
        Vec::new()
    }
}

/// Overwrites every secret of the process's own command line (see the module docs). Call
/// once the arguments are parsed. Returns how many arguments were masked.
pub fn mask_process_args() -> usize {
    let mut args = capture::args();
    let masks = {
        let view: Vec<&OsStr> = args.iter().map(|a| OsStr::from_bytes(a)).collect();
        secret_masks(&view)
    };
    for m in &masks {
        let Some(arg) = args.get_mut(m.index) else {
            continue;
        };
        let Some(span) = arg.get_mut(m.start..m.start + m.len) else {
            continue;
        };
        span.fill(0);
        let n = m.replacement.len().min(span.len());
        span[..n].copy_from_slice(&m.replacement[..n]);
    }
    masks.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(line: &str) -> String {
        let args: Vec<String> = line.split(' ').map(str::to_string).collect();
        let mut bytes: Vec<Vec<u8>> = args.iter().map(|a| a.clone().into_bytes()).collect();
        for m in secret_masks(&args) {
            let span = &mut bytes[m.index][m.start..m.start + m.len];
            span.fill(0);
            span[..m.replacement.len()].copy_from_slice(&m.replacement);
        }
        bytes
            .into_iter()
            .map(|b| String::from_utf8(b.into_iter().filter(|c| *c != 0).collect()).unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn passwords_and_specs_are_masked_where_clap_reads_them() {
        let cases = [
            (
                "pxadm shell -u radmin -pS3cretPW",
                "pxadm shell -u radmin -px",
            ),
            (
                "pxadm shell --password=S3cretPW -P 1",
                "pxadm shell --password=x -P 1",
            ),
            (
                "pxadm shell -n radmin:S3cretPW@127.0.0.1:6032",
                "pxadm shell -n radmin:***@127.0.0.1:6032",
            ),
            (
                "pxadm console -nradmin:S3cretPW@h:1 --node=n2=u:S3cretPW@h:2",
                "pxadm console -nradmin:***@h:1 --node=n2=u:***@h:2",
            ),
            (
                "pxadm --batch status --discover u:S3cretPW@h:1 --node u:ab@h:2",
                "pxadm --batch status --discover u:***@h:1 --node u:xx@h:2",
            ),
            ("pxadm shell -tpS3cretPW", "pxadm shell -tpx"),
            // Values of other flags are skipped, a bare -p asks, nothing after --.
            (
                "pxadm shell -u -pS3cretPW -p -e -pX",
                "pxadm shell -u -px -p -e -px",
            ),
            (
                "pxadm shell -e SELECT -u radmin",
                "pxadm shell -e SELECT -u radmin",
            ),
            ("pxadm -e -- -pS3cretPW", "pxadm -e -- -pS3cretPW"),
            ("pxadm shell -P 6032 -pS3cretPW", "pxadm shell -P 6032 -px"),
        ];
        for (line, shown) in cases {
            assert_eq!(apply(line), shown, "{line}");
        }
    }

    #[test]
    fn this_process_argv_is_reachable() {
        // The test binary's own argv: captured, and nothing in it is a secret.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(!capture::args().is_empty());
        assert_eq!(
            mask_process_args(),
            secret_masks(&std::env::args().collect::<Vec<_>>()).len()
        );
    }
}
