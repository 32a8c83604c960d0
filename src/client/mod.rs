//! Talking to nodes' admin interfaces (real ProxySQL 2.7 or `pxadm node`) with mysql_async:
//! the connections ([`conn`]), every admin query pxadm writes ([`queries`]), the poll the
//! console and the diagnosis run on every node ([`snapshot`]), and the reads a view makes on
//! demand ([`detail`]: one node's tables, every node's variables, the VIP state).

pub mod conn;
pub mod detail;
pub mod layers;
pub mod queries;
pub mod snapshot;
pub mod traffic;

#[cfg(test)]
mod test_server;
