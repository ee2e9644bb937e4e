//! A memory budget shared by the protocol parsers of one capture's
//! connections: a parser asks it before one of its buffers grows, gives
//! up that buffer as at its own cap when the answer is no, and gives the
//! bytes back when the buffer shrinks or the connection ends.
//!
//! Each parser holds a [`Charge`]: the bytes it counts against the
//! capture's [`Budget`]. [`Charge::take`] asks for more before a buffer
//! grows; [`Charge::set`] states what the parser holds after a call, so
//! that what was freed is given back (and what grew without asking, such
//! as the few bytes of a bookkeeping vector, is counted); dropping a charge
//! gives everything back, so a finished connection leaves nothing behind.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::cell::Cell;
use std::rc::Rc;

/// Bytes the parsers of one capture may hold at once: TLS hello and
/// handshake buffers, decrypted data queued, HTTP/1 header blocks, held
/// and pending requests, HTTP/2 frames and header blocks being gathered,
/// open streams' request text and HPACK tables (by their declared size).
/// With reassembly's 256 MiB (`flow::GLOBAL_PENDING`) and the connection
/// table's own cost (about 170 MiB at `flow::MAX_LIVE`), one capture
/// stays near 1 GiB; captures read in parallel (`--jobs`) each have
/// their own.
pub const PARSER_BUDGET: usize = 512 << 20;

/// Bytes of requests a capture's connections may hold listed at once, each
/// connection's until it is finished (`ledger::Request` and its text; the
/// list's own slack, at most as much again, aside). Past it, a connection's
/// further requests are counted and summed up, not listed
/// (`http.requests_not_listed`, `limits.requests_not_listed`).
pub const REQUEST_BUDGET: usize = 256 << 20;

/// The bytes a capture's parsers hold, against a limit.
#[derive(Debug)]
pub struct Budget {
    limit: usize,
    used: Cell<usize>,
    peak: Cell<usize>,
    refusals: Cell<u64>,
}

impl Budget {
    /// A budget of `limit` bytes, to be shared by a capture's connections.
    pub fn new(limit: usize) -> Rc<Budget> {
        Rc::new(Budget {
            limit,
            ..Budget::default()
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now by every charge.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// The most bytes held at once so far.
    pub fn peak(&self) -> usize {
        self.peak.get()
    }

    /// Times a charge was refused.
    pub fn refusals(&self) -> u64 {
        self.refusals.get()
    }

    fn set_used(&self, used: usize) {
        self.used.set(used);
        if used > self.peak.get() {
            self.peak.set(used);
        }
    }
}

impl Default for Budget {
    /// A budget of [`PARSER_BUDGET`].
    fn default() -> Self {
        Budget {
            limit: PARSER_BUDGET,
            used: Cell::new(0),
            peak: Cell::new(0),
            refusals: Cell::new(0),
        }
    }
}

/// What one parser holds against a [`Budget`]; without a budget (a parser
/// made on its own, in tests) nothing is ever refused.
#[derive(Debug, Default)]
pub struct Charge {
    budget: Option<Rc<Budget>>,
    held: usize,
}

impl Charge {
    pub fn new(budget: &Rc<Budget>) -> Charge {
        Charge {
            budget: Some(Rc::clone(budget)),
            held: 0,
        }
    }

    /// A charge, holding nothing yet, against the same budget as this one.
    pub fn sibling(&self) -> Charge {
        Charge {
            budget: self.budget.clone(),
            held: 0,
        }
    }

    /// The bytes this charge holds.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Counts `more` bytes, when they fit in the budget; false (and nothing
    /// counted) when they would pass it.
    pub fn take(&mut self, more: usize) -> bool {
        if more == 0 {
            return true;
        }
        if let Some(b) = &self.budget {
            match b.used.get().checked_add(more) {
                Some(used) if used <= b.limit => b.set_used(used),
                _ => {
                    b.refusals.set(b.refusals.get().saturating_add(1));
                    return false;
                }
            }
        }
        self.held = self.held.saturating_add(more);
        true
    }

    /// The holder holds `bytes` now, whatever the budget says: less gives
    /// credit back.
    pub fn set(&mut self, bytes: usize) {
        if bytes == self.held {
            return;
        }
        if let Some(b) = &self.budget {
            b.set_used(b.used.get().saturating_sub(self.held).saturating_add(bytes));
        }
        self.held = bytes;
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.set(0);
    }
}

/// Bytes `v`'s allocation grows by when `add` more elements are pushed
/// (the standard library's amortized growth: the larger of twice the
/// capacity and what is needed, at least 8 bytes' worth of `u8`s).
pub fn growth<T>(v: &Vec<T>, add: usize) -> usize {
    let need = v.len().saturating_add(add);
    let cap = v.capacity();
    if need <= cap {
        return 0;
    }
    let min = if std::mem::size_of::<T>() == 1 { 8 } else { 4 };
    let new = need.max(cap.saturating_mul(2)).max(min);
    (new - cap).saturating_mul(std::mem::size_of::<T>())
}

/// The heap bytes of a vector's allocation.
pub fn heap<T>(v: &Vec<T>) -> usize {
    v.capacity().saturating_mul(std::mem::size_of::<T>())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn charges_share_the_budget_and_give_back_what_they_held() {
        let b = Budget::new(100);
        let mut one = Charge::new(&b);
        let mut two = one.sibling();
        assert!(one.take(60));
        assert!(!two.take(41));
        assert!(two.take(40));
        assert_eq!((b.used(), b.refusals()), (100, 1));
        one.set(10);
        assert_eq!(b.used(), 50);
        assert!(two.take(50));
        drop(two);
        assert_eq!((b.used(), b.peak()), (10, 100));
        drop(one);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn without_a_budget_nothing_is_refused() {
        let mut c = Charge::default();
        assert!(c.take(usize::MAX));
        assert_eq!(c.held(), usize::MAX);
        assert!(c.take(1));
    }

    #[test]
    fn growth_is_what_the_vector_really_allocates() {
        let mut v: Vec<u8> = Vec::new();
        for add in [1, 7, 2, 100, 5, 300, 1000, 0, 4096] {
            let before = v.capacity();
            let predicted = growth(&v, add);
            v.extend_from_slice(&vec![0; add]);
            assert_eq!(v.capacity() - before, predicted, "adding {add}");
        }
        let mut w: Vec<(u64, u64)> = Vec::new();
        for _ in 0..50 {
            let before = heap(&w);
            let predicted = growth(&w, 1);
            w.push((0, 0));
            assert_eq!(heap(&w) - before, predicted);
        }
    }
}
