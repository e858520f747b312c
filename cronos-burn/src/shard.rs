//! Sharded solves: the rows of X and Y split over peers, one thread per device, whose sums over rows
//! are all-reduces of Burn's collective operations (`burn-collective`).
//!
//! [`fit_sharded`] is the whole job: it splits the rows, runs [`cronos_core::Cronos::fit_shard`] on every peer
//! and assembles one [`Solution`]. [`Peers`] is the machinery beneath it, for callers that run
//! peers of their own: it registers each peer with the collective and makes a failing peer
//! (an error or a panic) stop every other peer with an error that names it, instead of leaving
//! them waiting in an all-reduce that can never complete.
//!
//! What runs sharded is the pattern-space solve: products with X and X^T, the pattern-space core
//! (a sum over rows, factored on peer 0 and shared), residuals, objective and certificate. The
//! sample-space core (`n x n`, coupling every pair of rows) does not shard, and a polish runs on
//! peer 0 with every peer's rows gathered there; see [`cronos_core::Cronos::fit_shard`].

use burn::prelude::*;
use burn::tensor::TensorPrimitive;
use burn_collective::{
    all_reduce, finish_collective, register, reset_collective, CollectiveConfig, PeerId,
    ReduceOperation,
};
use cronos_core::{Collective, CronosConfig, CronosError, Observer, Result, Solution};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};

/// Burn's local collective is one per process (per backend): one sharded solve at a time.
static COLLECTIVE: Mutex<()> = Mutex::new(());

/// The peers of one sharded solve in this process and the first failure among them. It holds the
/// process's collective while it lives: a second `Peers` waits until the first is dropped.
pub struct Peers<B: Backend> {
    count: usize,
    failure: Arc<Mutex<Option<String>>>,
    _collective: MutexGuard<'static, ()>,
    _backend: std::marker::PhantomData<B>,
}

impl<B: Backend> Peers<B> {
    /// `count` peers, with the collective reset for them (once the process's collective is free).
    pub fn new(count: usize) -> Self {
        let collective = COLLECTIVE.lock().unwrap_or_else(|e| e.into_inner());
        reset_collective::<B>();
        Self {
            count,
            failure: Arc::default(),
            _collective: collective,
            _backend: std::marker::PhantomData,
        }
    }

    /// Runs `work` as peer `peer` on `device` (call it on that peer's thread): registers the peer,
    /// gives `work` its collective and leaves the collective afterwards. When `work` fails or
    /// panics, the failure is recorded under the peer's name and the collective is reset, so that
    /// every other peer's pending and later all-reduces fail with that message.
    pub fn run<T>(
        &self,
        peer: usize,
        device: B::Device,
        work: impl FnOnce(Arc<dyn Collective<B>>) -> Result<T>,
    ) -> Result<T> {
        let id = PeerId::from(peer);
        let config = CollectiveConfig::default().with_num_devices(self.count);
        let outcome = match register::<B>(id, device, config) {
            Ok(()) => {
                let collective: Arc<dyn Collective<B>> = Arc::new(PeerCollective::<B> {
                    id,
                    count: self.count,
                    failure: self.failure.clone(),
                    _backend: std::marker::PhantomData,
                });
                catch_unwind(AssertUnwindSafe(|| work(collective))).unwrap_or_else(|panic| {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic".into());
                    Err(CronosError::Peer(format!(
                        "peer {peer} panicked: {message}"
                    )))
                })
            }
            Err(e) => Err(CronosError::Peer(format!(
                "peer {peer} could not join the collective: {e:?}"
            ))),
        };
        match &outcome {
            Ok(_) => {
                // Every peer is past its last all-reduce here; leaving cannot block.
                let _ = finish_collective::<B>(id);
            }
            Err(e) => {
                let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
                if failure.is_none() {
                    *failure = Some(match e {
                        CronosError::Peer(message) => message.clone(),
                        other => format!("peer {peer} failed: {other}"),
                    });
                    drop(failure);
                    reset_collective::<B>();
                }
            }
        }
        outcome
    }

    /// The first failure among the peers, if any.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One peer's side of the all-reduce.
struct PeerCollective<B: Backend> {
    id: PeerId,
    count: usize,
    failure: Arc<Mutex<Option<String>>>,
    _backend: std::marker::PhantomData<B>,
}

impl<B: Backend> Collective<B> for PeerCollective<B> {
    fn peer(&self) -> usize {
        self.id.0 as usize
    }

    fn peers(&self) -> usize {
        self.count
    }

    fn sum(&self, t: Tensor<B, 2>) -> std::result::Result<Tensor<B, 2>, String> {
        let failed = || {
            self.failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        };
        if let Some(message) = failed() {
            return Err(message);
        }
        let primitive = t.into_primitive().tensor();
        match all_reduce::<B>(self.id, primitive, ReduceOperation::Sum) {
            Ok(sum) => {
                // burn-collective 0.21 hands every peer of a device the same buffer, which the
                // peers' threads then use and free independently. On wgpu that corrupts results:
                // two peers on one device saw the first element of a shared 20 x 20 matrix
                // overwritten by the next all-reduce's value, and their solve drifted 3.4x from
                // the unsharded one in 20 iterations. A copy through the host gives each peer a
                // buffer of its own (a memcpy on CPU backends; sums are d x B c or smaller per
                // iteration, so small next to an iteration on a GPU).
                let sum: Tensor<B, 2> = Tensor::from_primitive(TensorPrimitive::Float(sum));
                let options = (&sum.device(), sum.dtype());
                Ok(Tensor::from_data(sum.into_data(), options))
            }
            Err(e) => {
                Err(failed()
                    .unwrap_or_else(|| format!("all-reduce failed on peer {}: {e:?}", self.id)))
            }
        }
    }
}

/// Solves `config`'s program on `x` (`n x d`) and `y` (`n x c`), with `gates` (`d x P`) or Gaussian
/// gates drawn from the configuration's seed, with the rows split into one
/// contiguous block per device in `devices` (several peers may share a device), each peer on a
/// thread of its own. The solution is peer 0's, with the certificate of every row (its warm start
/// holds peer 0's rows only). `stop`, when set, stops every peer; `observer` sees peer 0's records
/// (every peer's are the same).
pub fn fit_sharded<B: Backend>(
    config: &CronosConfig,
    x: Tensor<B, 2>,
    y: Tensor<B, 2>,
    gates: Option<Tensor<B, 2>>,
    devices: &[B::Device],
    stop: Option<Arc<AtomicBool>>,
    mut observer: Option<&mut (dyn Observer + Send)>,
) -> Result<Solution<B>> {
    let [n, _] = x.dims();
    let count = devices.len();
    if count == 0 || count > n {
        return Err(CronosError::Parameter {
            name: "shards",
            value: count.to_string(),
            reason: "needs at least one peer and at most one peer per row of X",
        });
    }
    let peers = Peers::<B>::new(count);
    let results: Vec<Result<Solution<B>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = devices
            .iter()
            .enumerate()
            .map(|(peer, device)| {
                let (start, end) = (peer * n / count, (peer + 1) * n / count);
                let xk = x.clone().narrow(0, start, end - start).to_device(device);
                let yk = y.clone().narrow(0, start, end - start).to_device(device);
                let gates = gates.clone().map(|g| g.to_device(device));
                let (peers, stop) = (&peers, stop.clone());
                let observer = if peer == 0 { observer.take() } else { None };
                scope.spawn(move || {
                    peers.run(peer, device.clone(), |collective| {
                        let mut solver = config.solver();
                        if let Some(flag) = stop {
                            solver = solver.with_stop_flag(flag);
                        }
                        if let Some(observer) = observer {
                            solver = solver.with_observer(observer as &mut dyn Observer);
                        }
                        solver.fit_shard(xk, yk, gates, collective)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("peer panics are caught in Peers::run"))
            .collect()
    });
    if let Some(message) = peers.failure() {
        return Err(CronosError::Peer(message));
    }
    let mut solutions = results.into_iter().collect::<Result<Vec<_>>>()?;
    let mut first = solutions.remove(0);
    for other in solutions {
        first.certificate.append_rows(&other.certificate);
    }
    Ok(first)
}
