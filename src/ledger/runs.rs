//! Fixed-size records, too many to hold in memory, in the order of a key.
//!
//! [`Runs`] keeps records in memory up to a number; past it each batch is
//! sorted and written to an unnamed temporary file (in `TMPDIR`, gone with
//! the process) as one run. [`Sorted`] reads them back in key order,
//! merging the runs as it goes, as many times as asked; [`Sorted::merged`]
//! writes them out once as one run, whose ranges can then be read alone.
//! Memory holds one batch, and a window per run while reading.
//!
//! If no temporary file can be made or written, the records stay in
//! memory and the warning says so.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io;

/// A record of [`Record::SIZE`] bytes.
pub trait Record: Clone {
    const SIZE: usize;
    /// Appends exactly `SIZE` bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads one from exactly `SIZE` bytes.
    fn decode(bytes: &[u8]) -> Self;
}

/// Bytes of each run read at once, at most.
const WINDOW: usize = 64 << 10;

/// Bytes read at once of all the runs a reader merges together: each run's
/// window is its share, so that a reader's memory does not grow with the
/// number of runs (down to 16 records a run).
const WINDOWS: usize = 4 << 20;

/// One sorted run in the file: its offset and how many records.
#[derive(Clone, Copy, Debug)]
struct Run {
    offset: u64,
    len: usize,
}

/// Records as they come; [`Runs::finish`] gives them in key order. Keys
/// should be unique: records of equal keys come in no set order.
pub struct Runs<T, K> {
    key: fn(&T) -> K,
    /// Records kept in memory before a run is written.
    batch: usize,
    memory: Vec<T>,
    file: Option<File>,
    runs: Vec<Run>,
    /// Bytes written to the file.
    end: u64,
    /// Why records stopped going to the file, if they did.
    warning: Option<String>,
}

impl<T: Record, K: Ord + Copy> Runs<T, K> {
    /// Records in the order of `key`, written out `batch` at a time (at
    /// least one).
    pub fn new(key: fn(&T) -> K, batch: usize) -> Self {
        Runs {
            key,
            batch: batch.max(1),
            memory: Vec::new(),
            file: None,
            runs: Vec::new(),
            end: 0,
            warning: None,
        }
    }

    pub fn push(&mut self, record: T) {
        if self.memory.len() == self.memory.capacity() {
            // Doubled up to a batch; by an eighth past it, when the records
            // cannot go to a file.
            let len = self.memory.len();
            let more = if len < self.batch {
                len.max(64).min(self.batch - len)
            } else {
                len / 8 + 64
            };
            self.memory.reserve_exact(more);
        }
        self.memory.push(record);
        if self.memory.len() >= self.batch && self.warning.is_none() {
            self.write_run();
        }
    }

    pub fn len(&self) -> usize {
        self.memory.len() + self.runs.iter().map(|r| r.len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the records in memory, sorted, as one run.
    fn write_run(&mut self) {
        let key = self.key;
        self.memory.sort_unstable_by_key(key);
        let mut bytes = Vec::with_capacity(self.memory.len() * T::SIZE);
        self.memory.iter().for_each(|r| r.encode(&mut bytes));
        let file = match &self.file {
            Some(file) => file,
            None => match tempfile::tempfile() {
                Ok(file) => self.file.insert(file),
                Err(e) => {
                    self.warning = Some(format!("no temporary file ({e})"));
                    return;
                }
            },
        };
        match write_at(file, &bytes, self.end) {
            Ok(()) => {
                self.runs.push(Run {
                    offset: self.end,
                    len: self.memory.len(),
                });
                self.end += bytes.len() as u64;
                self.memory.clear();
            }
            Err(e) => self.warning = Some(format!("writing a temporary file: {e}")),
        }
    }

    /// The records in key order.
    pub fn finish(mut self) -> Sorted<T, K> {
        let key = self.key;
        self.memory.sort_unstable_by_key(key);
        self.memory.shrink_to_fit();
        let len = self.len();
        Sorted {
            key,
            memory: self.memory,
            file: self.file,
            runs: self.runs,
            end: self.end,
            len,
            warning: self.warning,
        }
    }
}

/// Records in key order: sorted runs in a file and one in memory.
pub struct Sorted<T, K> {
    key: fn(&T) -> K,
    memory: Vec<T>,
    file: Option<File>,
    runs: Vec<Run>,
    end: u64,
    len: usize,
    /// Why some records stayed in memory, if they did.
    pub warning: Option<String>,
}

impl<T, K> std::fmt::Debug for Sorted<T, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Sorted({} records, {} in memory, {} runs)",
            self.len,
            self.memory.len(),
            self.runs.len()
        )
    }
}

impl<T: Record, K: Ord + Copy> Sorted<T, K> {
    /// Records made in memory, sorted here.
    pub fn from_vec(key: fn(&T) -> K, mut records: Vec<T>) -> Self {
        records.sort_unstable_by_key(key);
        Sorted {
            key,
            len: records.len(),
            memory: records,
            file: None,
            runs: Vec::new(),
            end: 0,
            warning: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether some records are in the file.
    pub fn spilled(&self) -> bool {
        !self.runs.is_empty()
    }

    /// Every record in key order (a read error ends it).
    pub fn iter(&self) -> Iter<'_, T, K> {
        let window = (WINDOWS / self.runs.len().max(1)).clamp(16 * T::SIZE, WINDOW);
        let sources: Vec<Source> = self
            .runs
            .iter()
            .map(|r| Source::run(*r, window))
            .chain(std::iter::once(Source::memory(0, self.memory.len())))
            .collect();
        let n = sources.len();
        let mut it = Iter {
            sorted: self,
            sources,
            heads: BinaryHeap::with_capacity(n),
            current: vec![None; n],
            failed: false,
            pending_error: None,
        };
        (0..n).for_each(|i| it.advance(i));
        it
    }

    /// Records `range` in key order, of a `Sorted` that is one run or in
    /// memory ([`Sorted::merged`]); of any other, nothing but an error.
    pub fn range(&self, range: std::ops::Range<usize>) -> RangeIter<'_, T, K> {
        let source = match (self.runs.as_slice(), self.memory.is_empty()) {
            ([], _) => Ok(Source::memory(
                range.start,
                range.end.min(self.memory.len()),
            )),
            ([run], true) => {
                let start = range.start.min(run.len);
                let len = range.end.min(run.len).saturating_sub(start);
                Ok(Source::run(
                    Run {
                        offset: run.offset + (start * T::SIZE) as u64,
                        len,
                    },
                    WINDOW,
                ))
            }
            _ => Err(io::Error::other("a range of records not merged")),
        };
        RangeIter {
            sorted: self,
            source,
        }
    }

    /// The same records as one run, so that ranges of them can be read
    /// ([`Sorted::range`]). Written to the same temporary file; if that
    /// fails, they are read into memory.
    pub fn merged(self) -> io::Result<Self> {
        if self.runs.is_empty() || (self.runs.len() == 1 && self.memory.is_empty()) {
            return Ok(self);
        }
        let Some(file) = &self.file else {
            return Ok(self);
        };
        let start = self.end;
        let mut at = start;
        let mut bytes = Vec::with_capacity(WINDOW * 4);
        let mut written = Ok(());
        for r in self.iter() {
            r?.encode(&mut bytes);
            if bytes.len() >= WINDOW * 4 {
                written = write_at(file, &bytes, at);
                if written.is_err() {
                    break;
                }
                at += bytes.len() as u64;
                bytes.clear();
            }
        }
        if written.is_ok() {
            written = write_at(file, &bytes, at);
        }
        match written {
            Ok(()) => Ok(Sorted {
                runs: vec![Run {
                    offset: start,
                    len: self.len,
                }],
                memory: Vec::new(),
                end: at + bytes.len() as u64,
                ..self
            }),
            Err(e) => {
                let memory = self.iter().collect::<io::Result<Vec<T>>>()?;
                Ok(Sorted {
                    memory,
                    runs: Vec::new(),
                    warning: Some(format!("writing a temporary file: {e}")),
                    ..self
                })
            }
        }
    }
}

/// Where a reader takes records from: a run of the file through a window,
/// or a stretch of the records in memory.
struct Source {
    run: Option<Run>,
    /// Bytes read at once.
    window_size: usize,
    /// Records of the run not yet read into the window, and the offset of
    /// the next.
    left: usize,
    offset: u64,
    window: Vec<u8>,
    /// In the window, or in memory.
    at: usize,
    end: usize,
}

impl Source {
    fn run(run: Run, window_size: usize) -> Self {
        Source {
            run: Some(run),
            window_size,
            left: run.len,
            offset: run.offset,
            window: Vec::new(),
            at: 0,
            end: 0,
        }
    }

    fn memory(start: usize, end: usize) -> Self {
        Source {
            run: None,
            window_size: 0,
            left: 0,
            offset: 0,
            window: Vec::new(),
            at: start,
            end: end.max(start),
        }
    }

    fn next<T: Record, K>(&mut self, sorted: &Sorted<T, K>) -> io::Result<Option<T>> {
        if self.run.is_none() {
            let r = sorted.memory.get(self.at).filter(|_| self.at < self.end);
            self.at += 1;
            return Ok(r.cloned());
        }
        if self.at >= self.end {
            if self.left == 0 {
                return Ok(None);
            }
            let Some(file) = &sorted.file else {
                return Err(io::Error::other("records lost with their file"));
            };
            let n = self.left.min((self.window_size / T::SIZE).max(1));
            self.window.resize(n * T::SIZE, 0);
            let got = super::store::read_at(file, &mut self.window, self.offset)?;
            if got < self.window.len() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "temporary file shorter than written",
                ));
            }
            self.left -= n;
            self.offset += self.window.len() as u64;
            self.at = 0;
            self.end = self.window.len();
        }
        let bytes = self
            .window
            .get(self.at..self.at + T::SIZE)
            .ok_or_else(|| io::Error::other("a record past its window"))?;
        self.at += T::SIZE;
        Ok(Some(T::decode(bytes)))
    }
}

/// Every record of a [`Sorted`] in key order: the least of each source's
/// next record, over and over.
pub struct Iter<'a, T, K> {
    sorted: &'a Sorted<T, K>,
    sources: Vec<Source>,
    heads: BinaryHeap<Reverse<(K, usize)>>,
    current: Vec<Option<T>>,
    failed: bool,
    pending_error: Option<io::Error>,
}

impl<T: Record, K: Ord + Copy> Iter<'_, T, K> {
    /// Reads source `i`'s next record into its place among the heads.
    fn advance(&mut self, i: usize) {
        let Some(source) = self.sources.get_mut(i) else {
            return;
        };
        match source.next(self.sorted) {
            Ok(Some(r)) => {
                self.heads.push(Reverse(((self.sorted.key)(&r), i)));
                if let Some(slot) = self.current.get_mut(i) {
                    *slot = Some(r);
                }
            }
            Ok(None) => {}
            Err(e) => {
                self.failed = true;
                self.pending_error = Some(e);
            }
        }
    }
}

impl<T: Record, K: Ord + Copy> Iterator for Iter<'_, T, K> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<io::Result<T>> {
        if self.failed {
            return self.pending_error.take().map(Err);
        }
        let Reverse((_, i)) = self.heads.pop()?;
        let record = self.current.get_mut(i)?.take()?;
        self.advance(i);
        Some(Ok(record))
    }
}

/// A range of the records of a merged [`Sorted`].
pub struct RangeIter<'a, T, K> {
    sorted: &'a Sorted<T, K>,
    source: io::Result<Source>,
}

impl<T: Record, K> Iterator for RangeIter<'_, T, K> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<io::Result<T>> {
        let source = match &mut self.source {
            Ok(s) => s,
            Err(e) => {
                let e = io::Error::new(e.kind(), e.to_string());
                self.source = Ok(Source::memory(0, 0));
                return Some(Err(e));
            }
        };
        match source.next(self.sorted) {
            Ok(r) => r.map(Ok),
            Err(e) => {
                self.source = Ok(Source::memory(0, 0));
                Some(Err(e))
            }
        }
    }
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(not(unix))]
fn write_at(mut file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct N(u64, u32);

    impl Record for N {
        const SIZE: usize = 12;
        fn encode(&self, out: &mut Vec<u8>) {
            out.extend_from_slice(&self.0.to_le_bytes());
            out.extend_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Self {
            let mut k = [0; 8];
            let mut v = [0; 4];
            k.copy_from_slice(&b[..8]);
            v.copy_from_slice(&b[8..12]);
            N(u64::from_le_bytes(k), u32::from_le_bytes(v))
        }
    }

    fn shuffled(n: u64) -> Vec<N> {
        // A fixed permutation: multiplying by a number prime to n.
        (0..n).map(|i| N(i * 7919 % n, i as u32)).collect()
    }

    proptest::proptest! {
        /// Whatever the batch, the records come back in key order, all of
        /// them, twice over, and merged into one run they read alike by
        /// ranges.
        #[test]
        fn records_come_back_in_key_order(n in 0u64..3000, batch in 1usize..700) {
            let records = shuffled(n.max(1) * 2 + 1);
            let mut runs: Runs<N, u64> = Runs::new(|r| r.0, batch);
            records.iter().cloned().for_each(|r| runs.push(r));
            let sorted = runs.finish();
            let mut want = records.clone();
            want.sort_by_key(|r| r.0);
            for _ in 0..2 {
                let got: Vec<N> = sorted.iter().collect::<io::Result<_>>().unwrap();
                proptest::prop_assert_eq!(&got, &want);
            }
            let merged = sorted.merged().unwrap();
            let mid = want.len() / 3;
            let got: Vec<N> = merged.range(mid..want.len()).collect::<io::Result<_>>().unwrap();
            proptest::prop_assert_eq!(&got[..], &want[mid..]);
            let all: Vec<N> = merged.iter().collect::<io::Result<_>>().unwrap();
            proptest::prop_assert_eq!(&all, &want);
        }
    }

    #[test]
    fn a_range_past_the_end_is_cut() {
        let mut runs: Runs<N, u64> = Runs::new(|r| r.0, 4);
        shuffled(11).into_iter().for_each(|r| runs.push(r));
        let merged = runs.finish().merged().unwrap();
        assert!(merged.spilled());
        let got: Vec<u64> = merged.range(9..50).map(|r| r.unwrap().0).collect();
        assert_eq!(got, vec![9, 10]);
    }
}
