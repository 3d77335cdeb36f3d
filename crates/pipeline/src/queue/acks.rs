//! Which sequence numbers the outputs have acknowledged: everything below `low`, plus the
//! numbers above it that finished out of order (workers finish batches in any order).
//! Pure: the queue saves [`Acked::ranges`] in its checkpoint and deletes pages below `low`.

use std::collections::BTreeSet;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Acked {
    /// Every sequence number below this is acknowledged.
    pub low: u64,
    above: BTreeSet<u64>,
}

impl Acked {
    pub fn new(low: u64) -> Acked {
        Acked {
            low,
            above: BTreeSet::new(),
        }
    }

    /// Restores a checkpoint: `low` and the acknowledged ranges above it.
    pub fn from_ranges(low: u64, ranges: &[(u64, u64)]) -> Acked {
        let mut a = Acked::new(low);
        for &(start, end) in ranges {
            a.ack_range(start, end);
        }
        a
    }

    pub fn ack(&mut self, seq: u64) {
        if seq < self.low {
            return;
        }
        if seq == self.low {
            self.low += 1;
            while self.above.remove(&self.low) {
                self.low += 1;
            }
        } else {
            self.above.insert(seq);
        }
    }

    /// Acknowledges `start..end` (records lost in a damaged page count as done: nothing
    /// will ever deliver them, and waiting for them would keep every later page forever).
    pub fn ack_range(&mut self, start: u64, end: u64) {
        for s in start.max(self.low)..end {
            self.ack(s);
        }
    }

    pub fn is_acked(&self, seq: u64) -> bool {
        seq < self.low || self.above.contains(&seq)
    }

    /// Acknowledged numbers above `low`, as half-open ranges, for the checkpoint.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for &s in &self.above {
            match out.last_mut() {
                Some((_, end)) if *end == s => *end = s + 1,
                _ => out.push((s, s + 1)),
            }
        }
        out
    }

    /// How many numbers at or above `low` are acknowledged (not yet folded into `low`).
    pub fn pending_above(&self) -> usize {
        self.above.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_acks_fold_into_low() {
        let mut a = Acked::new(10);
        a.ack(12);
        a.ack(13);
        a.ack(15);
        assert_eq!(a.low, 10);
        assert_eq!(a.ranges(), vec![(12, 14), (15, 16)]);
        a.ack(11);
        a.ack(10);
        assert_eq!(a.low, 14);
        assert_eq!(a.ranges(), vec![(15, 16)]);
        assert!(a.is_acked(15) && !a.is_acked(14) && a.is_acked(3));
        let b = Acked::from_ranges(a.low, &a.ranges());
        assert_eq!(a, b);
    }

    #[test]
    fn ranges_below_low_are_ignored() {
        let mut a = Acked::new(5);
        a.ack(1);
        a.ack_range(0, 7);
        assert_eq!(a.low, 7);
        assert!(a.ranges().is_empty());
    }
}
