//! The console's inputs as the rest of the crate provides them: the node list, the fault
//! operations and the settings.

pub use crate::console::config::ConsoleSettings;
pub use crate::console::fault::{Fault, FaultInjector};
pub use crate::console::nodes::ConsoleNode;
