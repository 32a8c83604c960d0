//! The real terminal: raw mode and the alternate screen on entry, restored on every exit path
//! (drop, error, panic), and a thread that turns terminal input into actions.

use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use crossterm::event::{self, DisableBracketedPaste, EnableBracketedPaste, Event};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use super::action::Action;

static PANICKED: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// True once any thread panicked while the console ran (the terminal is already restored).
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Puts the terminal back: cooked mode, main screen, visible cursor. Safe to call twice.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Restores the terminal before the default panic message is printed, so the message is
/// readable and the shell usable; the loop then sees [`panicked`] and stops.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            PANICKED.store(true, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Owns the terminal while the console runs; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        let setup = || -> io::Result<Terminal<CrosstermBackend<Stdout>>> {
            // Clear with a plain escape: `Terminal::clear` asks the terminal for the cursor
            // position, which a terminal that never answers turns into a startup failure.
            execute!(
                io::stdout(),
                EnterAlternateScreen,
                EnableBracketedPaste,
                Clear(ClearType::All)
            )?;
            Terminal::new(CrosstermBackend::new(io::stdout()))
        };
        match setup() {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// The terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// The input thread: crossterm's reader blocks, so it runs on its own OS thread rather than
/// on the async runtime, polling every 100 ms for the stop flag.
pub struct InputThread {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl InputThread {
    /// Starts reading terminal events into `tx`.
    pub fn spawn(tx: mpsc::Sender<Action>) -> io::Result<InputThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (done_tx, done) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("pxadm-input".into())
            .spawn(move || {
                read_loop(&tx, &flag);
                let _ = done_tx.send(());
            })?;
        Ok(InputThread {
            stop,
            handle: Some(handle),
            done,
        })
    }

    /// Stops the thread and waits for it, at most a little over one poll period: a read on a
    /// terminal that hung up can block for good, and quitting must never hang on it (the
    /// thread then ends with the process).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if self.done.recv_timeout(Duration::from_millis(300)).is_ok() {
            if let Some(h) = self.handle.take() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for InputThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn read_loop(tx: &mpsc::Sender<Action>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let action = match event::poll(Duration::from_millis(100)) {
            Ok(false) => continue,
            Ok(true) => match event::read() {
                Ok(Event::Key(key)) => Action::Key(key),
                Ok(Event::Paste(text)) => Action::Paste(text),
                Ok(Event::Resize(..)) => Action::Resize,
                Ok(_) => continue,
                // The terminal went away: nothing more can be read or shown.
                Err(_) => Action::Quit,
            },
            Err(_) => Action::Quit,
        };
        let quit = matches!(action, Action::Quit);
        if tx.blocking_send(action).is_err() || quit {
            return;
        }
    }
}
