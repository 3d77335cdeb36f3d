//! Requests from the REST API to the driver task, which alone may talk to the
//! master and change the scheduler state. Today there is one: uninstall.

use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// What `DELETE /v1/framework` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UninstallReport {
    /// The framework that was torn down (none if none was ever registered).
    pub framework_id: Option<String>,
    /// The master accepted TEARDOWN: it kills every task of the framework.
    pub teardown_sent: bool,
    /// Agent tasks the scheduler knew of (all killed by the master).
    pub agent_tasks: usize,
    /// The framework id is gone from the state store: the next start registers anew.
    pub state_cleared: bool,
    /// The driver stopped: no more offers are taken, nothing is relaunched.
    pub driver_stopped: bool,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UninstallError {
    #[error("the framework is already uninstalled")]
    AlreadyUninstalled,
    /// TEARDOWN needs a live subscription (the master answers 403 otherwise).
    #[error("not subscribed to a master, the framework cannot be torn down now: {0}")]
    NotSubscribed(String),
    #[error("the master did not accept TEARDOWN: {0}")]
    Master(String),
    #[error("state store failed after TEARDOWN: {0}")]
    Store(String),
    #[error("the driver did not answer within {0:?}")]
    Timeout(Duration),
}

pub type Reply = oneshot::Sender<Result<UninstallReport, UninstallError>>;

/// The API side keeps the sender; the driver takes the receiver once.
#[derive(Debug)]
pub struct Control {
    tx: mpsc::Sender<Reply>,
    rx: Mutex<Option<mpsc::Receiver<Reply>>>,
}

impl Default for Control {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(4);
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl Control {
    /// For the driver; `None` when a driver already took it.
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<Reply>> {
        self.rx.lock().ok().and_then(|mut r| r.take())
    }

    /// Asks the driver to uninstall and waits for its answer.
    pub async fn uninstall(&self, wait: Duration) -> Result<UninstallReport, UninstallError> {
        let (reply, answer) = oneshot::channel();
        // A closed channel means the driver has stopped, which only uninstall does.
        if self.tx.send(reply).await.is_err() {
            return Err(UninstallError::AlreadyUninstalled);
        }
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(UninstallError::AlreadyUninstalled),
            Err(_) => Err(UninstallError::Timeout(wait)),
        }
    }
}
