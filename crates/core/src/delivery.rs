//! Delivery tracking for ordered sources: how far may the checkpoint go?
//!
//! A source (a file, a container stream, the dead letter queue) emits items in order, each
//! with an [`Ack`](crate::Ack) whose token it registered here together with the position
//! just after the item. Acknowledgements arrive in any order; the committed position only
//! ever advances over the longest prefix of delivered items (at-least-once: a hole stops
//! it until filled). A failed item stops it for good in this run: it is read again after a
//! restart, and so is everything after it.
//!
//! [`DeliveryTracker`] is the plain state; [`SharedDelivery`] wraps it in a mutex and is
//! an [`AckSink`], for sources whose acks carry the tracker's own tokens.

use crate::AckSink;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Pending,
    Delivered,
    Failed,
}

/// The in-flight items of one ordered source and the position delivered up to.
#[derive(Debug)]
pub struct DeliveryTracker<P> {
    /// (token, position after the item, fate) in emission order; tokens increase.
    pending: VecDeque<(u64, P, Fate)>,
    committed: Option<P>,
    /// `committed` moved since the last [`take_advanced`](Self::take_advanced).
    advanced: bool,
    next_token: u64,
    delivered: u64,
    failed: u64,
}

impl<P> Default for DeliveryTracker<P> {
    fn default() -> Self {
        DeliveryTracker::new(None)
    }
}

impl<P> DeliveryTracker<P> {
    /// A tracker whose checkpoint starts at `start` (`None`: nothing delivered yet).
    pub fn new(start: Option<P>) -> Self {
        DeliveryTracker {
            pending: VecDeque::new(),
            committed: start,
            advanced: false,
            next_token: 0,
            delivered: 0,
            failed: 0,
        }
    }

    /// Registers an item about to be emitted under a token of the caller's choosing (a
    /// byte offset); tokens must increase from one item to the next.
    pub fn register(&mut self, token: u64, after: P) {
        debug_assert!(
            self.pending.back().is_none_or(|(t, _, _)| *t < token),
            "delivery tokens must increase"
        );
        self.next_token = token.saturating_add(1);
        self.pending.push_back((token, after, Fate::Pending));
    }

    /// Registers an item under the next free token and returns it (0, 1, 2, ...).
    pub fn register_next(&mut self, after: P) -> u64 {
        let token = self.next_token;
        self.register(token, after);
        token
    }

    /// Records the fate of the item with `token`; unknown tokens are ignored.
    pub fn finish(&mut self, token: u64, delivered: bool) {
        if let Ok(i) = self.pending.binary_search_by_key(&token, |(t, _, _)| *t) {
            if self.pending[i].2 != Fate::Pending {
                return;
            }
            self.pending[i].2 = if delivered {
                self.delivered += 1;
                Fate::Delivered
            } else {
                self.failed += 1;
                Fate::Failed
            };
        }
        while self
            .pending
            .front()
            .is_some_and(|(_, _, f)| *f == Fate::Delivered)
        {
            if let Some((_, pos, _)) = self.pending.pop_front() {
                self.committed = Some(pos);
                self.advanced = true;
            }
        }
    }

    /// The position after the last item of the delivered prefix (or the start).
    pub fn committed(&self) -> Option<&P> {
        self.committed.as_ref()
    }

    /// Items registered and not yet passed by the checkpoint (failed ones stay for good).
    pub fn outstanding(&self) -> usize {
        self.pending.len()
    }

    /// Items whose fate is still unknown.
    pub fn in_flight(&self) -> usize {
        self.pending
            .iter()
            .filter(|(_, _, f)| *f == Fate::Pending)
            .count()
    }

    /// How many items were acknowledged as delivered / failed so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    pub fn failed(&self) -> u64 {
        self.failed
    }
}

impl<P: Clone> DeliveryTracker<P> {
    /// The committed position if it advanced since the last call.
    pub fn take_advanced(&mut self) -> Option<P> {
        if std::mem::take(&mut self.advanced) {
            self.committed.clone()
        } else {
            None
        }
    }
}

/// A [`DeliveryTracker`] shared between the source and its acks.
#[derive(Debug, Default)]
pub struct SharedDelivery<P>(Mutex<DeliveryTracker<P>>);

impl<P> SharedDelivery<P> {
    pub fn new(start: Option<P>) -> Arc<Self> {
        Arc::new(SharedDelivery(Mutex::new(DeliveryTracker::new(start))))
    }

    /// The tracker. A panic elsewhere while it was held leaves consistent data (every
    /// method completes its change before returning), so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, DeliveryTracker<P>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<P: Send> AckSink for SharedDelivery<P> {
    fn finished(&self, token: u64, delivered: bool) {
        self.lock().finish(token, delivered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ack;

    #[test]
    fn advances_only_over_the_delivered_prefix_with_out_of_order_acks() {
        let mut t = DeliveryTracker::new(Some(0u64));
        for end in [10, 20, 30, 40] {
            t.register(end, end);
        }
        t.finish(30, true);
        t.finish(20, true);
        assert_eq!(t.committed(), Some(&0), "the first line is still pending");
        assert_eq!(t.take_advanced(), None);
        t.finish(10, true);
        assert_eq!(t.committed(), Some(&30));
        assert_eq!(t.take_advanced(), Some(30));
        assert_eq!(t.take_advanced(), None, "reported once");
        assert_eq!((t.outstanding(), t.in_flight()), (1, 1));
        t.finish(40, true);
        assert_eq!(t.committed(), Some(&40));
        assert_eq!((t.outstanding(), t.in_flight(), t.delivered()), (0, 0, 4));
    }

    #[test]
    fn a_failed_item_stops_the_checkpoint_for_good() {
        let mut t = DeliveryTracker::<&str>::default();
        let a = t.register_next("a");
        let b = t.register_next("b");
        let c = t.register_next("c");
        assert_eq!((a, b, c), (0, 1, 2));
        t.finish(b, false);
        t.finish(c, true);
        t.finish(a, true);
        assert_eq!(t.committed(), Some(&"a"), "advances up to the failed item");
        assert_eq!((t.delivered(), t.failed()), (2, 1));
        assert_eq!(t.outstanding(), 2, "the failed item and what follows stay");
        assert_eq!(t.in_flight(), 0, "but nothing is waited for any more");
        let d = t.register_next("d");
        t.finish(d, true);
        assert_eq!(t.committed(), Some(&"a"));
    }

    #[test]
    fn duplicate_and_unknown_acks_change_nothing() {
        let mut t = DeliveryTracker::new(None);
        let a = t.register_next(1);
        let b = t.register_next(2);
        t.finish(a, false);
        t.finish(a, true);
        t.finish(99, true);
        t.finish(b, true);
        t.finish(b, true);
        assert_eq!(t.committed(), None);
        assert_eq!((t.delivered(), t.failed()), (1, 1));
    }

    #[test]
    fn shared_tracker_hears_dropped_acks() {
        let shared = SharedDelivery::new(Some(0u64));
        let sink: Arc<dyn AckSink> = shared.clone();
        shared.lock().register(5, 5);
        shared.lock().register(9, 9);
        let first = Ack::new(sink.clone(), 5);
        let second = Ack::new(sink, 9);
        drop(second);
        assert_eq!(shared.lock().committed(), Some(&0));
        drop(first);
        assert_eq!(shared.lock().committed(), Some(&9));
    }
}
