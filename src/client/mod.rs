//! Talking to nodes' admin interfaces (real ProxySQL 2.7 or `pxadm node`) with mysql_async.

pub mod conn;
pub mod snapshot;

#[cfg(test)]
mod test_server;
