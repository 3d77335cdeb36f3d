//! A receipt for a batch of events an input cannot replay (a beats window, an HTTP
//! request): the input attaches [`Receipt::ack`] to each event it emits and answers its
//! sender only after [`Receipt::wait`] says the events are safe — delivered by every
//! output with the memory queue, written to disk with `queue.type: persisted`.

use logstash_mesos_core::{Ack, AckSink};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

struct Sink(Mutex<Option<oneshot::Sender<bool>>>);

impl AckSink for Sink {
    fn finished(&self, _token: u64, delivered: bool) {
        if let Ok(mut g) = self.0.lock() {
            if let Some(tx) = g.take() {
                let _ = tx.send(delivered);
            }
        }
    }
}

/// Waits for the acknowledgement of every event that holds a clone of its [`Ack`].
pub struct Receipt {
    ack: Option<Ack>,
    rx: oneshot::Receiver<bool>,
}

impl Receipt {
    pub fn new() -> Receipt {
        let (tx, rx) = oneshot::channel();
        let sink = Arc::new(Sink(Mutex::new(Some(tx))));
        Receipt {
            ack: Some(Ack::new(sink, 0)),
            rx,
        }
    }

    /// The acknowledgement to attach to each event of the batch.
    pub fn ack(&self) -> Ack {
        match &self.ack {
            Some(a) => a.clone(),
            // `ack` is only taken by `wait`, which consumes the receipt.
            None => unreachable!("receipt already waited on"),
        }
    }

    /// True when every event was delivered (or safely queued); false when one was given
    /// up on (shutdown) — the sender should then resend. A batch with no events is
    /// delivered at once.
    pub async fn wait(mut self) -> bool {
        // Our own clone must go, or the sink never hears from the last event.
        drop(self.ack.take());
        self.rx.await.unwrap_or(false)
    }
}

impl Default for Receipt {
    fn default() -> Self {
        Receipt::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use logstash_mesos_core::Event;

    #[tokio::test]
    async fn resolves_after_the_last_event() {
        let r = Receipt::new();
        let mut a = Event::from_message("a");
        let mut b = Event::from_message("b");
        a.attach_ack(r.ack());
        b.attach_ack(r.ack());
        let waiter = tokio::spawn(r.wait());
        drop(a);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert!(!waiter.is_finished());
        drop(b);
        assert!(waiter.await.unwrap());
    }

    #[tokio::test]
    async fn a_failed_event_fails_the_receipt() {
        let r = Receipt::new();
        let mut a = Event::from_message("a");
        a.attach_ack(r.ack());
        a.fail_acks();
        drop(a);
        assert!(!r.wait().await);
    }

    #[tokio::test]
    async fn empty_batch_is_delivered() {
        assert!(Receipt::new().wait().await);
    }
}
