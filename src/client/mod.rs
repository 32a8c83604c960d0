//! Talking to nodes' admin interfaces (real ProxySQL 2.7 or `pxadm node`) with mysql_async:
//! the connections ([`conn`]), every admin query pxadm writes ([`queries`]) and the poll the
//! console and the diagnosis run on every node ([`snapshot`]).

pub mod conn;
pub mod queries;
pub mod snapshot;

#[cfg(test)]
mod test_server;
