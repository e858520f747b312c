//! Where the rows of X live: all on this device, or one block of them on each peer of a sharded solve.
//!
//! A sharded solve gives every peer a block of rows of X and Y (and so of the patterns, the cone
//! slacks and their multipliers); the point u, its multipliers and everything in `d`-space are
//! replicated. Row-separable work (X u, masks, slacks, residuals) stays local, and every sum over rows
//! (X^T R products, the Gram and pattern-space matrices, norms and objective terms) is one sum over
//! the peers through a [`Collective`]. All control decisions are taken from summed values (or from
//! flags the peers agree on, [`Rows::agreed`]), so every peer takes the same path through the solve
//! and calls the collective the same number of times.
//!
//! What does not shard, and runs on one peer only: the factorizations (peer 0 factors, the others
//! receive the factor, so that every peer applies bit-identical inverses), never the sample-space
//! core, which couples all rows (`n x n`), and the polish, whose interior-point methods need every
//! row on one host: each peer's rows are gathered on peer 0 ([`Rows::gather`]), which polishes and
//! shares the point and multipliers ([`Rows::share`]); the dual point's sums over rows are then
//! summed over the peers again, each on its own rows.

use crate::error::{CronosError, Result};
use crate::host;
use burn::prelude::*;
use burn::tensor::{DType, TensorData};
use faer::Mat;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Bytes of rows that one all-reduce of [`Rows::gather`] moves (on every peer's device), so that a
/// polish's gather needs that much device memory beside X, not another copy of all of X.
const GATHER_BYTES: usize = 64 << 20;

/// The sum over peers that a sharded solve is built on; one value per peer, on that peer's thread.
///
/// Every peer calls [`Collective::sum`] the same number of times with tensors of the same shapes.
pub trait Collective<B: Backend>: Send + Sync {
    /// This peer's index, `0..peers`.
    fn peer(&self) -> usize;
    /// Number of peers.
    fn peers(&self) -> usize;
    /// The element-wise sum of `t` over all peers, or what went wrong (naming the peer that failed).
    fn sum(&self, t: Tensor<B, 2>) -> std::result::Result<Tensor<B, 2>, String>;
}

/// The rows of one solve: [`Rows::whole`] or a peer's block. The first failure of the collective is
/// kept (the operation returns its input unchanged, so that shapes hold) and ends the solve at its
/// next [`Rows::check`].
#[derive(Clone)]
pub(crate) struct Rows<B: Backend> {
    collective: Option<Arc<dyn Collective<B>>>,
    failure: Arc<Mutex<Option<String>>>,
    /// Nanoseconds spent in [`Collective::sum`].
    waited: Arc<AtomicU64>,
}

impl<B: Backend> fmt::Debug for Rows<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.collective {
            None => write!(f, "Rows::Whole"),
            Some(c) => write!(f, "Rows::Shard({} of {})", c.peer(), c.peers()),
        }
    }
}

impl<B: Backend> Rows<B> {
    /// Every row on this device.
    pub(crate) fn whole() -> Self {
        Self {
            collective: None,
            failure: Arc::default(),
            waited: Arc::default(),
        }
    }

    /// This peer's block of rows.
    pub(crate) fn shard(collective: Arc<dyn Collective<B>>) -> Self {
        Self {
            collective: Some(collective),
            failure: Arc::default(),
            waited: Arc::default(),
        }
    }

    /// Number of peers (1 unsharded).
    pub(crate) fn peers(&self) -> usize {
        self.collective.as_ref().map_or(1, |c| c.peers())
    }

    /// Seconds spent in sums over the peers so far.
    pub(crate) fn collective_seconds(&self) -> f64 {
        self.waited.load(Ordering::Relaxed) as f64 * 1e-9
    }

    /// Whether the rows are split over several peers.
    pub(crate) fn is_sharded(&self) -> bool {
        self.collective.is_some()
    }

    /// Whether this is the peer that factors (peer 0, or the only one).
    pub(crate) fn is_first(&self) -> bool {
        self.collective.as_ref().is_none_or(|c| c.peer() == 0)
    }

    /// The sum over peers of `t`, a sum over this peer's rows.
    pub(crate) fn sum<const D: usize>(&self, t: Tensor<B, D>) -> Tensor<B, D> {
        let Some(collective) = &self.collective else {
            return t;
        };
        let shape = t.shape();
        let flat: Tensor<B, 2> = t.clone().reshape([1, shape.num_elements()]);
        let start = Instant::now();
        let summed = collective.sum(flat);
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.waited.fetch_add(nanos, Ordering::Relaxed);
        match summed {
            Ok(summed) => summed.reshape(shape),
            Err(message) => {
                self.fail(message);
                t
            }
        }
    }

    /// The sum over peers of `values`, sums over this peer's rows computed on the host in f64, added
    /// on the device of `like` in f64 where its backend holds f64 there (flex and ndarray do)
    /// and otherwise in `like`'s float type, where each addition rounds at about 1e-7 of the sum.
    pub(crate) fn sum_host(&self, values: Vec<f64>, like: &Tensor<B, 2>) -> Vec<f64> {
        if !self.is_sharded() {
            return values;
        }
        let device = like.device();
        let dtype = match B::supports_dtype(&device, DType::F64) {
            true => DType::F64,
            false => like.dtype(),
        };
        let count = values.len();
        let local = Tensor::<B, 1>::from_data(TensorData::new(values, [count]), (&device, dtype));
        host::to_vec(self.sum(local))
    }

    /// Peer 0's `values` on every peer (the others' are ignored; the same length on every peer),
    /// in f64 where the backend holds f64 ([`Rows::sum_host`]).
    pub(crate) fn share(&self, values: Vec<f64>, like: &Tensor<B, 2>) -> Vec<f64> {
        match self.is_first() {
            true => self.sum_host(values, like),
            false => self.sum_host(vec![0.0; values.len()], like),
        }
    }

    /// Every peer's rows of `t` (this peer's block of them), in the order of the peers, on the host
    /// of peer 0 in f64 (no rows on the others), and the row at which this peer's start: sums of
    /// copies padded with zeros, exact in any precision, [`GATHER_BYTES`] of rows at a time.
    pub(crate) fn gather(&self, t: Tensor<B, 2>) -> (Mat<f64>, usize) {
        let bytes = t.dims()[1].max(1) * t.dtype().size();
        self.gather_by(t, (GATHER_BYTES / bytes).max(1))
    }

    /// [`Rows::gather`], `chunk` rows at a time.
    fn gather_by(&self, t: Tensor<B, 2>, chunk: usize) -> (Mat<f64>, usize) {
        let Some(collective) = &self.collective else {
            return (host::to_faer(t), 0);
        };
        let [local, cols] = t.dims();
        let mut counts = vec![0.0; collective.peers()];
        counts[collective.peer()] = local as f64;
        let counts = self.sum_host(counts, &t);
        let start = counts[..collective.peer()].iter().sum::<f64>() as usize;
        let total = counts.iter().sum::<f64>() as usize;
        let first = self.is_first();
        let mut all = Mat::<f64>::zeros(if first { total } else { 0 }, cols);
        for from in (0..total).step_by(chunk) {
            let to = (from + chunk).min(total);
            let mut padded = Tensor::<B, 2>::zeros([to - from, cols], (&t.device(), t.dtype()));
            // This peer's rows within [from, to), if any.
            let (a, b) = (start.max(from), (start + local).min(to));
            if a < b {
                let mine = t.clone().narrow(0, a - start, b - a);
                padded = padded.slice_assign([a - from..b - from, 0..cols], mine);
            }
            let part = self.sum(padded);
            if first {
                all.as_mut()
                    .subrows_mut(from, to - from)
                    .copy_from(&host::to_faer(part));
            }
        }
        (all, start)
    }

    /// `t` as peer 0 has it, on every peer (the others pass a tensor of the same shape, ignored).
    pub(crate) fn broadcast<const D: usize>(&self, t: Tensor<B, D>) -> Tensor<B, D> {
        if self.is_first() {
            self.sum(t)
        } else {
            self.sum(t.zeros_like())
        }
    }

    /// Whether any peer's `flag` is set, the same answer on every peer.
    pub(crate) fn agreed(&self, flag: bool, like: &Tensor<B, 2>) -> bool {
        if !self.is_sharded() {
            return flag;
        }
        let value = host::upload(vec![f64::from(u8::from(flag))], [1], like);
        host::scalar(self.sum(value)) > 0.0
    }

    /// The number of rows over all peers, from this peer's `local` count.
    pub(crate) fn total(&self, local: usize, like: &Tensor<B, 2>) -> usize {
        if !self.is_sharded() {
            return local;
        }
        host::scalar(self.sum(host::upload(vec![local as f64], [1], like))).round() as usize
    }

    fn fail(&self, message: String) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert(message);
    }

    /// Fails with [`CronosError::Peer`] once the collective has failed.
    pub(crate) fn check(&self) -> Result<()> {
        let failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        match &*failure {
            Some(message) => Err(CronosError::Peer(message.clone())),
            None => Ok(()),
        }
    }
}

impl<B: Backend> Rows<B> {
    /// Vectors read in one transfer (and, sharded, one sum), their values in order: `sums` over
    /// this peer's rows and `maxima` over them, both completed over the peers, and `shared` values
    /// every peer already holds (computed from summed tensors or replicated ones), not summed again.
    pub(crate) fn read(
        &self,
        sums: Vec<Tensor<B, 1>>,
        maxima: Vec<Tensor<B, 1>>,
        shared: Vec<Tensor<B, 1>>,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let elements = |t: &[Tensor<B, 1>]| t.iter().map(|t| t.dims()[0]).sum::<usize>();
        let (s, m) = (elements(&sums), elements(&maxima));
        let peers = self.peers();
        let mut reduced = sums;
        match &self.collective {
            Some(collective) if m > 0 => {
                let local = Tensor::cat(maxima, 0);
                let slots = Tensor::<B, 1>::zeros([peers * m], (&local.device(), local.dtype()));
                let at = collective.peer() * m;
                reduced.push(slots.slice_assign(at..at + m, local));
            }
            _ => reduced.extend(maxima),
        }
        let mut parts = Vec::new();
        if !reduced.is_empty() {
            parts.push(self.sum(Tensor::cat(reduced, 0)));
        }
        parts.extend(shared);
        let values = if parts.is_empty() {
            Vec::new()
        } else {
            host::to_vec(Tensor::cat(parts, 0))
        };
        let maxima = (0..m)
            .map(|j| {
                (0..peers)
                    .map(|p| values[s + p * m + j])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let shared = values[s + peers * m..].to_vec();
        (values[..s].to_vec(), maxima, shared)
    }
}

#[cfg(test)]
mod tests {
    use super::{Collective, Rows};
    use crate::host;
    use crate::test_support::B;
    use burn::prelude::*;
    use burn::tensor::TensorData;
    use std::sync::{Arc, Barrier, Mutex};

    /// Peers on threads of this process that sum through shared memory.
    struct Threads {
        peer: usize,
        peers: usize,
        total: Arc<Mutex<Vec<f64>>>,
        barrier: Arc<Barrier>,
    }

    impl Collective<B> for Threads {
        fn peer(&self) -> usize {
            self.peer
        }

        fn peers(&self) -> usize {
            self.peers
        }

        fn sum(&self, t: Tensor<B, 2>) -> Result<Tensor<B, 2>, String> {
            let values = host::to_vec(t.clone());
            {
                let mut total = self.total.lock().unwrap();
                total.resize(values.len(), 0.0);
                for (s, v) in total.iter_mut().zip(&values) {
                    *s += v;
                }
            }
            self.barrier.wait();
            let sum = self.total.lock().unwrap().clone();
            self.barrier.wait();
            self.total.lock().unwrap().clear();
            self.barrier.wait();
            let options = (&t.device(), t.dtype());
            Ok(Tensor::from_data(TensorData::new(sum, t.dims()), options))
        }
    }

    /// Three peers of 5, 4 and 6 rows gather a 15 x 3 matrix 4 rows at a time: peer 0 holds every
    /// row in the peers' order, the others none, and each knows where its rows start.
    #[test]
    fn a_gather_puts_every_peers_rows_on_peer_0_in_order() {
        let (sizes, cols) = ([5, 4, 6], 3);
        let peers = sizes.len();
        let whole: Vec<f64> = (0..15 * cols).map(|k| k as f64 + 0.5).collect();
        let total = Arc::new(Mutex::new(Vec::new()));
        let barrier = Arc::new(Barrier::new(peers));
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..peers)
                .map(|peer| {
                    let start: usize = sizes[..peer].iter().sum();
                    let block = whole[start * cols..(start + sizes[peer]) * cols].to_vec();
                    let collective = Threads {
                        peer,
                        peers,
                        total: total.clone(),
                        barrier: barrier.clone(),
                    };
                    scope.spawn(move || {
                        let rows = Rows::<B>::shard(Arc::new(collective));
                        let data = TensorData::new(block, [sizes[peer], cols]);
                        let t = Tensor::<B, 2>::from_data(data, &Default::default());
                        rows.gather_by(t, 4)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (peer, (gathered, start)) in results.iter().enumerate() {
            assert_eq!(*start, sizes[..peer].iter().sum::<usize>(), "peer {peer}");
            match peer {
                0 => assert_eq!(host::row_major(gathered), whole),
                _ => assert_eq!(gathered.nrows(), 0, "peer {peer}"),
            }
        }
    }
}
