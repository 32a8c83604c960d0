//! Reading a password from the terminal without echoing it (`-p` without a value).
//!
//! Like the mysql client, the prompt goes to and the answer comes from the controlling
//! terminal (`/dev/tty`), never stdin, so `pxadm shell -p < script.sql` still reads the script.
//! The terminal is put in non-canonical, no-echo, no-signal mode: nothing typed is shown (not
//! even asterisks), Ctrl-C and Ctrl-D cancel cleanly and the saved terminal settings are always
//! restored, which a SIGINT arriving in no-echo mode would not allow.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::io::AsRawFd;

/// Restores the saved terminal settings when dropped.
struct RawGuard<'a> {
    tty: &'a File,
    saved: libc::termios,
}

impl Drop for RawGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: tcsetattr on a descriptor we own, with settings tcgetattr filled in.
        unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &self.saved) };
    }
}

/// What a keystroke does to the password being typed.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Char(u8),
    Erase,
    Kill,
    Done,
    Cancel,
}

fn key(byte: u8, typed_so_far: usize) -> Key {
    match byte {
        b'\r' | b'\n' => Key::Done,
        0x03 => Key::Cancel,                      // Ctrl-C
        0x04 if typed_so_far == 0 => Key::Cancel, // Ctrl-D on an empty line
        0x04 => Key::Done,
        0x7f | 0x08 => Key::Erase, // DEL, Backspace
        0x15 => Key::Kill,         // Ctrl-U
        b => Key::Char(b),
    }
}

/// Applies keystrokes to a password; `None` when cancelled.
fn edit(bytes: impl IntoIterator<Item = u8>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for b in bytes {
        match key(b, out.len()) {
            Key::Char(c) => out.push(c),
            Key::Erase => {
                // Drop a whole UTF-8 sequence, not just its last byte.
                while let Some(c) = out.pop() {
                    if c & 0xC0 != 0x80 {
                        break;
                    }
                }
            }
            Key::Kill => out.clear(),
            Key::Done => return Some(out),
            Key::Cancel => return None,
        }
    }
    Some(out)
}

/// Prompts on the terminal and reads a password without echo. Blocking: call it from a
/// blocking thread. Fails when there is no terminal or the user cancels.
pub fn read_password(prompt: &str) -> io::Result<String> {
    let mut tty = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("no terminal to ask for the password ({e}); use -pPASSWORD or MYSQL_PWD"),
            )
        })?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for a descriptor we own.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut term) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let guard = RawGuard {
        tty: &tty,
        saved: term,
    };
    let mut raw = term;
    raw.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG);
    raw.c_cc[libc::VMIN] = 1;
    raw.c_cc[libc::VTIME] = 0;
    // SAFETY: as above, with settings derived from the saved ones.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) } != 0 {
        return Err(io::Error::last_os_error());
    }
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    let mut typed = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if (&tty).read(&mut byte)? == 0 {
            break;
        }
        typed.push(byte[0]);
        if matches!(key(byte[0], 1), Key::Done | Key::Cancel) {
            break;
        }
    }
    drop(guard);
    let _ = tty.write_all(b"\n");
    match edit(typed) {
        Some(bytes) => String::from_utf8(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "password is not UTF-8")),
        None => Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "password prompt cancelled",
        )),
    }
}

/// Asks for the password on the terminal when a bare `-p` was given.
pub async fn ask_password_if_needed(
    ask: bool,
    nodes: &mut crate::console::nodes::NodeArgs,
) -> anyhow::Result<()> {
    if !ask {
        return Ok(());
    }
    let pw = tokio::task::spawn_blocking(|| read_password("Enter password: ")).await??;
    nodes.password = Some(pw);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_editing_keys() {
        assert_eq!(edit(*b"secret\r"), Some(b"secret".to_vec()));
        assert_eq!(edit(*b"sex\x7fcret\n"), Some(b"secret".to_vec()));
        assert_eq!(edit(*b"wrong\x15right\r"), Some(b"right".to_vec()));
        assert_eq!(edit(*b"abc\x03"), None);
        assert_eq!(edit(*b"\x04"), None);
        assert_eq!(edit(*b"ab\x04"), Some(b"ab".to_vec()));
        // Backspace removes a whole multi-byte character.
        assert_eq!(edit("pé\x7f\r".bytes()), Some(b"p".to_vec()));
    }
}
