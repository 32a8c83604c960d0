//! The MEMORY, RUNTIME and DISK copies of a node's clustered configuration, read table by
//! table so the diagnosis can tell "edited but not loaded" from "loaded but not saved"
//! (issue #15). A read is heavier than a poll (three selects per table), so the console asks
//! for it only for the node on screen and at a slower pace; `--batch diagnose` reads it once
//! for every node.

use std::time::Duration;

use super::conn::{connect, query_text, ClientError, NodeAddr};
use super::queries::{self, Layer};
use crate::proxysql::statement::ConfigModule;

/// The modules whose layers are compared: the clustered ones (scheduler, REST API and
/// firewall are not synced and are left out).
pub const LAYER_MODULES: [ConfigModule; 6] = [
    ConfigModule::AdminVariables,
    ConfigModule::MysqlQueryRules,
    ConfigModule::MysqlServers,
    ConfigModule::MysqlUsers,
    ConfigModule::MysqlVariables,
    ConfigModule::ProxysqlServers,
];

/// Rows as text, `None` for SQL NULL.
pub type Rows = Vec<Vec<Option<String>>>;

/// One table's rows in each layer; `None` where the layer could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableLayers {
    /// Table name without schema or `runtime_` prefix.
    pub table: String,
    /// `main.<table>`.
    pub memory: Option<Rows>,
    /// `runtime_<table>`.
    pub runtime: Option<Rows>,
    /// `disk.<table>`.
    pub disk: Option<Rows>,
}

impl TableLayers {
    /// The rows of one layer.
    pub fn rows(&self, layer: Layer) -> Option<&Rows> {
        match layer {
            Layer::Memory => self.memory.as_ref(),
            Layer::Runtime => self.runtime.as_ref(),
            Layer::Disk => self.disk.as_ref(),
        }
    }
}

/// One module's tables in the three layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLayers {
    /// The LOAD/SAVE module.
    pub module: ConfigModule,
    /// Its tables, in [`ConfigModule::tables`] order.
    pub tables: Vec<TableLayers>,
}

/// One node's layers, as read at `fetched_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLayers {
    /// Node name (as in its snapshot).
    pub node: String,
    /// Unix seconds (console clock) of the read.
    pub fetched_at: u64,
    /// Every module of [`LAYER_MODULES`].
    pub modules: Vec<ModuleLayers>,
    /// Tables that could not be read, and why.
    pub notes: Vec<String>,
}

impl NodeLayers {
    /// The layers of one module, when read.
    pub fn module(&self, module: ConfigModule) -> Option<&ModuleLayers> {
        self.modules.iter().find(|m| m.module == module)
    }
}

/// Reads every table of [`LAYER_MODULES`] in the three layers over one connection. A table
/// a node lacks (an older ProxySQL) becomes a note, not an error; a dead connection is one.
pub async fn fetch_layers(addr: &NodeAddr, timeout: Duration) -> Result<NodeLayers, ClientError> {
    let fetched_at = crate::proxysql::clock::unix_now();
    let mut conn = connect(addr, timeout).await?;
    let mut modules = Vec::new();
    let mut notes = Vec::new();
    for module in LAYER_MODULES {
        let mut tables = Vec::new();
        for table in module.tables() {
            let mut t = TableLayers {
                table: (*table).to_owned(),
                ..TableLayers::default()
            };
            for layer in Layer::ALL {
                let sql = queries::layer_rows(module, table, layer);
                let rows = match query_text(&mut conn, &sql).await {
                    Ok(rs) => Some(rs.rows),
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(e) => {
                        notes.push(format!("{layer} {table} unreadable: {e}"));
                        None
                    }
                };
                match layer {
                    Layer::Memory => t.memory = rows,
                    Layer::Runtime => t.runtime = rows,
                    Layer::Disk => t.disk = rows,
                }
            }
            tables.push(t);
        }
        modules.push(ModuleLayers { module, tables });
    }
    conn.close().await;
    Ok(NodeLayers {
        node: addr.name.clone(),
        fetched_at,
        modules,
        notes,
    })
}
