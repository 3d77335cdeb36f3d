//! The pipeline bus: how the `pipeline` output of one pipeline reaches the `pipeline` input
//! of another in the same process (Logstash's `PipelineBus`).
//!
//! An input listens on an address with its pipeline's queue sender; an output attaches to
//! the addresses of its `send_to` for as long as it exists. Events cross by moving into the
//! downstream queue with their acknowledgements, so a source checkpoints an event only when
//! every pipeline it reached has delivered it (the last copy dropped releases the ack).
//!
//! Shutdown order follows Logstash's: while the process shuts down, a `pipeline` input
//! stops listening only once no output is attached to its address any more, i.e. once
//! every upstream pipeline has drained into it. On a reload of one pipeline the input
//! leaves at once, and upstream outputs with `ensure_delivery` wait for the address to
//! come back.

use crate::input_context::Decorator;
use logstash_mesos_core::Event;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, Notify};

/// The bus of one process; cheap to clone (every pipeline's `BuildContext` holds one).
#[derive(Clone, Default)]
pub struct PipelineBus(Arc<Inner>);

impl std::fmt::Debug for PipelineBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PipelineBus")
    }
}

#[derive(Default)]
struct Inner {
    slots: Mutex<HashMap<String, Slot>>,
    /// Woken on every change: a listener came or went, an output detached.
    changed: Notify,
    shutting_down: AtomicBool,
    next_id: AtomicU64,
}

#[derive(Default)]
struct Slot {
    listener: Option<Listener>,
    /// Outputs attached to this address.
    senders: usize,
}

/// Where events sent to an address go: the listening pipeline's queue.
#[derive(Clone)]
pub struct Listener {
    id: u64,
    pub pipeline: String,
    pub sender: mpsc::Sender<Event>,
    /// The `pipeline` input's own `type`/`tags`/`add_field`.
    pub decorator: Decorator,
}

/// Another input already listens on the address.
#[derive(Debug, thiserror::Error)]
#[error("address {address:?} is already in use by pipeline {pipeline:?}")]
pub struct AddressInUse {
    pub address: String,
    pub pipeline: String,
}

impl PipelineBus {
    fn slots(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // A panic while holding this lock leaves the map consistent (every change is one
        // statement), so a poisoned lock is still usable.
        self.0
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Listens on `address`; events sent there go to `sender`.
    pub fn listen(
        &self,
        address: &str,
        pipeline: &str,
        sender: mpsc::Sender<Event>,
        decorator: Decorator,
    ) -> Result<Listening, AddressInUse> {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut slots = self.slots();
            let slot = slots.entry(address.to_string()).or_default();
            if let Some(l) = &slot.listener {
                return Err(AddressInUse {
                    address: address.to_string(),
                    pipeline: l.pipeline.clone(),
                });
            }
            slot.listener = Some(Listener {
                id,
                pipeline: pipeline.to_string(),
                sender,
                decorator,
            });
        }
        self.0.changed.notify_waiters();
        Ok(Listening {
            bus: self.clone(),
            address: address.to_string(),
            id,
        })
    }

    /// Attaches an output to `addresses` until the returned guard is dropped.
    pub fn attach(&self, addresses: &[String]) -> Attached {
        let mut slots = self.slots();
        for a in addresses {
            slots.entry(a.clone()).or_default().senders += 1;
        }
        Attached {
            bus: self.clone(),
            addresses: addresses.to_vec(),
        }
    }

    /// The listener on `address`, if any.
    pub fn lookup(&self, address: &str) -> Option<Listener> {
        self.slots().get(address).and_then(|s| s.listener.clone())
    }

    /// The process is stopping: inputs now wait for their upstream pipelines to drain.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::Release);
        self.0.changed.notify_waiters();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::Acquire)
    }

    /// Completes at the next change on the bus (or after `max`, so a waiter re-checks
    /// anyway: a change between the caller's check and this call is not missed for long).
    pub async fn changed(&self, max: std::time::Duration) {
        let _ = tokio::time::timeout(max, self.0.changed.notified()).await;
    }

    fn senders(&self, address: &str) -> usize {
        self.slots().get(address).map_or(0, |s| s.senders)
    }

    fn remove_listener(&self, address: &str, id: u64) {
        {
            let mut slots = self.slots();
            if let Some(slot) = slots.get_mut(address) {
                if slot.listener.as_ref().is_some_and(|l| l.id == id) {
                    slot.listener = None;
                }
                if slot.listener.is_none() && slot.senders == 0 {
                    slots.remove(address);
                }
            }
        }
        self.0.changed.notify_waiters();
    }
}

/// An input listening on an address; dropping it stops listening at once.
pub struct Listening {
    bus: PipelineBus,
    address: String,
    id: u64,
}

impl Listening {
    /// Stops listening. While the process shuts down this first waits until no output is
    /// attached to the address, so what upstream pipelines still hold arrives here.
    pub async fn close(self) {
        while self.bus.is_shutting_down() && self.bus.senders(&self.address) > 0 {
            self.bus
                .changed(std::time::Duration::from_millis(200))
                .await;
        }
        drop(self);
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.bus.remove_listener(&self.address, self.id);
    }
}

/// An output attached to its addresses; dropping it detaches.
pub struct Attached {
    bus: PipelineBus,
    addresses: Vec<String>,
}

impl Drop for Attached {
    fn drop(&mut self) {
        {
            let mut slots = self.bus.slots();
            for a in &self.addresses {
                if let Some(slot) = slots.get_mut(a) {
                    slot.senders = slot.senders.saturating_sub(1);
                    if slot.listener.is_none() && slot.senders == 0 {
                        slots.remove(a);
                    }
                }
            }
        }
        self.bus.0.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_has_one_listener() {
        let bus = PipelineBus::default();
        let (tx, _rx) = mpsc::channel(4);
        let first = bus.listen("a", "p1", tx.clone(), Decorator::default());
        assert!(first.is_ok());
        let err = bus
            .listen("a", "p2", tx.clone(), Decorator::default())
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("address \"a\" is already in use by pipeline \"p1\"")
        );
        drop(first);
        assert!(bus.lookup("a").is_none());
        assert!(bus.listen("a", "p2", tx, Decorator::default()).is_ok());
    }

    #[tokio::test]
    async fn at_shutdown_an_input_waits_for_its_upstream_outputs() {
        let bus = PipelineBus::default();
        let (tx, _rx) = mpsc::channel(4);
        let listening = bus.listen("a", "down", tx, Decorator::default()).unwrap();
        let attached = bus.attach(&["a".to_string()]);
        bus.begin_shutdown();
        let closing = tokio::spawn(listening.close());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(
            !closing.is_finished(),
            "closed while an output was attached"
        );
        assert!(bus.lookup("a").is_some());
        drop(attached);
        tokio::time::timeout(std::time::Duration::from_secs(2), closing)
            .await
            .expect("closes once the output detached")
            .expect("join");
        assert!(bus.lookup("a").is_none());
    }

    #[tokio::test]
    async fn without_shutdown_an_input_leaves_at_once() {
        let bus = PipelineBus::default();
        let (tx, _rx) = mpsc::channel(4);
        let listening = bus.listen("a", "down", tx, Decorator::default()).unwrap();
        let _attached = bus.attach(&["a".to_string()]);
        tokio::time::timeout(std::time::Duration::from_secs(1), listening.close())
            .await
            .expect("a reload does not wait for upstream");
        assert!(bus.lookup("a").is_none());
    }
}
