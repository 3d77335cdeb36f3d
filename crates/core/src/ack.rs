//! Source acknowledgements.
//!
//! A source (a file reader, a docker stream) attaches an [`Ack`] to each event it emits.
//! Clones of the event (one per output) share it; when the last holder lets go, the
//! source's [`AckSink`] hears whether the event was delivered. An output that gives up on
//! an event without delivering it (shutdown mid-retry) calls [`Ack::fail`] first, so the
//! source never checkpoints past a line that did not arrive.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Receives the final status of acknowledged events.
pub trait AckSink: Send + Sync {
    /// `token` is what the source attached (a byte offset, a sequence number);
    /// `delivered` is false when some holder failed the event.
    fn finished(&self, token: u64, delivered: bool);
}

struct AckInner {
    sink: Arc<dyn AckSink>,
    token: u64,
    failed: AtomicBool,
}

impl Drop for AckInner {
    fn drop(&mut self) {
        self.sink
            .finished(self.token, !self.failed.load(Ordering::Acquire));
    }
}

/// A shared acknowledgement handle; the sink is told when the last clone is dropped.
#[derive(Clone)]
pub struct Ack(Arc<AckInner>);

impl Ack {
    pub fn new(sink: Arc<dyn AckSink>, token: u64) -> Ack {
        Ack(Arc::new(AckInner {
            sink,
            token,
            failed: AtomicBool::new(false),
        }))
    }

    /// Marks the event as not delivered.
    pub fn fail(&self) {
        self.0.failed.store(true, Ordering::Release);
    }

    pub fn token(&self) -> u64 {
        self.0.token
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ack({})", self.0.token)
    }
}

/// The acknowledgements one event holds: usually none or one; several after a merge.
#[derive(Clone, Debug, Default)]
pub enum Acks {
    #[default]
    None,
    One(Ack),
    Many(Vec<Ack>),
}

impl Acks {
    pub fn push(&mut self, ack: Ack) {
        *self = match std::mem::take(self) {
            Acks::None => Acks::One(ack),
            Acks::One(a) => Acks::Many(vec![a, ack]),
            Acks::Many(mut v) => {
                v.push(ack);
                Acks::Many(v)
            }
        };
    }

    pub fn extend(&mut self, other: Acks) {
        match other {
            Acks::None => {}
            Acks::One(a) => self.push(a),
            Acks::Many(v) => v.into_iter().for_each(|a| self.push(a)),
        }
    }

    pub fn fail(&self) {
        match self {
            Acks::None => {}
            Acks::One(a) => a.fail(),
            Acks::Many(v) => v.iter().for_each(Ack::fail),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Acks::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Record(Mutex<Vec<(u64, bool)>>);
    impl AckSink for Record {
        fn finished(&self, token: u64, delivered: bool) {
            self.0.lock().unwrap().push((token, delivered));
        }
    }

    #[test]
    fn fires_once_when_last_clone_dropped() {
        let rec = Arc::new(Record::default());
        let a = Ack::new(rec.clone(), 7);
        let b = a.clone();
        drop(a);
        assert!(rec.0.lock().unwrap().is_empty());
        drop(b);
        assert_eq!(*rec.0.lock().unwrap(), vec![(7, true)]);
    }

    #[test]
    fn failure_is_reported() {
        let rec = Arc::new(Record::default());
        let a = Ack::new(rec.clone(), 1);
        let b = a.clone();
        b.fail();
        drop(a);
        drop(b);
        assert_eq!(*rec.0.lock().unwrap(), vec![(1, false)]);
    }
}
