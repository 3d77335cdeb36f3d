//! ZooKeeper: leading-master detection from the `json.info_*` nodes Mesos
//! publishes, and a state store (`--state zk://hosts/path`).

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use zookeeper_client as zkc;

use crate::store::{decode, encode, State, StateStore, StoreError};

/// Mesos' leader-election znodes under the `--zk` path.
const INFO_PREFIX: &str = "json.info_";

#[derive(Debug, thiserror::Error)]
pub enum ZkError {
    #[error("zookeeper {hosts}: {source}")]
    Zk { hosts: String, source: zkc::Error },
    #[error("invalid zookeeper url {0:?}: expected zk://host:port[,host:port...]/path")]
    Url(String),
    #[error("no leading master registered under {0}")]
    NoLeader(String),
    #[error("master info {node}: {message}")]
    BadInfo { node: String, message: String },
}

/// `zk://h1:2181,h2:2181/mesos` → (`h1:2181,h2:2181`, `/mesos`).
pub fn parse_url(url: &str) -> Result<(String, String), ZkError> {
    let rest = url
        .strip_prefix("zk://")
        .ok_or_else(|| ZkError::Url(url.into()))?;
    let (hosts, path) = rest
        .split_once('/')
        .ok_or_else(|| ZkError::Url(url.into()))?;
    if hosts.is_empty() || path.is_empty() {
        return Err(ZkError::Url(url.into()));
    }
    Ok((
        hosts.to_string(),
        format!("/{}", path.trim_end_matches('/')),
    ))
}

pub async fn connect(hosts: &str) -> Result<zkc::Client, ZkError> {
    zkc::Client::connector()
        .session_timeout(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(5))
        .connect(hosts)
        .await
        .map_err(|source| ZkError::Zk {
            hosts: hosts.into(),
            source,
        })
}

#[derive(Deserialize)]
struct Address {
    hostname: Option<String>,
    ip: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
struct MasterInfo {
    address: Option<Address>,
    hostname: Option<String>,
    port: Option<u16>,
}

/// `http://host:port` of the master in one `json.info_*` node (a `MasterInfo`).
pub fn master_url(node: &str, data: &[u8]) -> Result<String, ZkError> {
    let bad = |message: String| ZkError::BadInfo {
        node: node.into(),
        message,
    };
    let info: MasterInfo = serde_json::from_slice(data).map_err(|e| bad(e.to_string()))?;
    let (host, port) = match info.address {
        Some(a) => (a.hostname.or(a.ip), a.port),
        None => (info.hostname, info.port),
    };
    let host = host
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no hostname or ip".into()))?;
    Ok(format!("http://{host}:{}", port.unwrap_or(5050)))
}

/// The leader is the contender with the lowest sequence number.
pub fn leader_node(children: &[String]) -> Option<&String> {
    children
        .iter()
        .filter_map(|c| {
            c.strip_prefix(INFO_PREFIX)
                .and_then(|seq| seq.parse::<u64>().ok())
                .map(|seq| (seq, c))
        })
        .min_by_key(|(seq, _)| *seq)
        .map(|(_, c)| c)
}

pub async fn detect_leader(
    client: &zkc::Client,
    hosts: &str,
    path: &str,
) -> Result<String, ZkError> {
    let zk = |source| ZkError::Zk {
        hosts: hosts.into(),
        source,
    };
    let children = match client.list_children(path).await {
        Ok(c) => c,
        Err(zkc::Error::NoNode) => return Err(ZkError::NoLeader(path.into())),
        Err(e) => return Err(zk(e)),
    };
    let node = leader_node(&children).ok_or_else(|| ZkError::NoLeader(path.into()))?;
    let full = format!("{path}/{node}");
    let (data, _) = client.get_data(&full).await.map_err(zk)?;
    master_url(&full, &data)
}

/// The state document in one znode (ZooKeeper's default limit is 1 MB per node).
pub struct ZkStore {
    client: zkc::Client,
    hosts: String,
    path: String,
}

impl ZkStore {
    pub async fn open(hosts: &str, path: &str) -> Result<Self, StoreError> {
        let client = connect(hosts).await.map_err(|e| StoreError::Backend {
            location: format!("zk://{hosts}{path}"),
            message: e.to_string(),
        })?;
        Ok(Self {
            client,
            hosts: hosts.into(),
            path: path.into(),
        })
    }

    fn err(&self, e: zkc::Error) -> StoreError {
        StoreError::Backend {
            location: self.location(),
            message: e.to_string(),
        }
    }

    async fn ensure_parents(&self) -> Result<(), StoreError> {
        let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        let mut prefix = String::new();
        let parts: Vec<&str> = self.path.split('/').filter(|p| !p.is_empty()).collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            prefix.push('/');
            prefix.push_str(part);
            match self.client.create(&prefix, &[], &opts).await {
                Ok(_) | Err(zkc::Error::NodeExists) => {}
                Err(e) => return Err(self.err(e)),
            }
        }
        Ok(())
    }
}

impl StateStore for ZkStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<State>, StoreError>> {
        Box::pin(async move {
            match self.client.get_data(&self.path).await {
                Ok((data, _)) if data.is_empty() => Ok(None),
                Ok((data, _)) => decode(&self.location(), &data).map(Some),
                Err(zkc::Error::NoNode) => Ok(None),
                Err(e) => Err(self.err(e)),
            }
        })
    }

    fn save<'a>(&'a self, state: &'a State) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            // A znode write is atomic: readers see the old or the new document.
            let data = encode(state);
            match self.client.set_data(&self.path, &data, None).await {
                Ok(_) => Ok(()),
                Err(zkc::Error::NoNode) => {
                    self.ensure_parents().await?;
                    let opts = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
                    match self.client.create(&self.path, &data, &opts).await {
                        Ok(_) => Ok(()),
                        Err(zkc::Error::NodeExists) => self
                            .client
                            .set_data(&self.path, &data, None)
                            .await
                            .map(|_| ())
                            .map_err(|e| self.err(e)),
                        Err(e) => Err(self.err(e)),
                    }
                }
                Err(e) => Err(self.err(e)),
            }
        })
    }

    fn location(&self) -> String {
        format!("zk://{}{}", self.hosts, self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leader_is_lowest_sequence() {
        let c: Vec<String> = [
            "log_replicas",
            "json.info_0000000012",
            "json.info_0000000003",
            "info_0000000001",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            leader_node(&c).map(String::as_str),
            Some("json.info_0000000003")
        );
        assert_eq!(leader_node(&["log_replicas".to_string()]), None);
    }

    #[test]
    fn master_info_from_the_shared_example() {
        let path = crate::testutil::api_dir().join("event-SUBSCRIBED.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
        let info = &v["variants"][0]["body"]["subscribed"]["master_info"];
        let data = serde_json::to_vec(info).expect("ser");
        assert_eq!(
            master_url("n", &data).expect("url"),
            "http://master-1.example.com:5050"
        );
        assert!(master_url("n", b"{}").is_err());
        assert!(master_url("n", b"not json").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("zk://a:2181,b:2181/mesos/").expect("ok"),
            ("a:2181,b:2181".into(), "/mesos".into())
        );
        assert!(parse_url("zk://a:2181").is_err());
        assert!(parse_url("http://a/b").is_err());
    }
}
