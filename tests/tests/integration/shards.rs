//! Sharded solves (rows split over local peers that sum through burn-collective) against the
//! unsharded solve and the interior-point optimum, and a peer that dies mid-solve.

use burn::prelude::*;
use burn::tensor::DType;
use cronos_burn::shard::{fit_sharded, Peers};
use cronos_core::{Collective, CronosConfig, CronosError, Formulation, Solution, Status};
use cronos_tests::{independent_bound, Fixture};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

type B = burn::backend::Flex;

fn config(fx: &Fixture) -> CronosConfig {
    CronosConfig::new()
        .with_beta(fx.beta)
        .with_formulation(if fx.gated {
            Formulation::Gated
        } else {
            Formulation::Relu
        })
        .with_filter_patterns(false)
}

fn sharded(fx: &Fixture, config: &CronosConfig, peers: usize) -> Solution<B> {
    let device = Default::default();
    let [x, y, gates] = fx.tensors::<B>(&device, DType::F64);
    fit_sharded(config, x, y, Some(gates), &vec![device; peers], None, None).unwrap()
}

/// A fixed number of iterations from the same start: 1, 2 and 4 peers run the same iteration (their
/// sums only add rows in another order), so their objectives agree far below any tolerance. So does
/// a relative beta, which comes from F^T Y, a sum over the rows of every peer.
#[test]
fn peers_follow_the_same_iterates() {
    for name in ["relu_binary.npz", "relu_multi.npz", "gated_binary.npz"] {
        let fx = Fixture::load(name);
        let fixed = config(&fx).with_max_iters(60).with_rho(Some(0.03));
        for config in [fixed.clone(), fixed.with_relative_beta(Some(1e-3))] {
            let reports = [1, 2, 4].map(|peers| (peers, sharded(&fx, &config, peers).report));
            let one = &reports[0].1;
            for (peers, r) in &reports[1..] {
                let diff = (r.objective - one.objective).abs() / one.objective;
                println!(
                    "{name}, beta {}: {peers} peers' objective {} vs 1 peer's {} ({diff:.1e})",
                    r.beta, r.objective, one.objective
                );
                assert!(diff <= 1e-9, "{name}: {r:?} vs {one:?}");
                assert!((r.beta - one.beta).abs() <= 1e-12 * one.beta, "{r:?}");
                assert_eq!(r.iterations, one.iterations);
                assert_eq!(r.n, fx.x.rows);
            }
        }
    }
}

/// Solved to a certified 1e-7, 1, 2 and 4 peers reach the unsharded solve's objective to 1e-6, and
/// the assembled certificate (rows of every peer) proves its bound when recomputed independently.
/// They polish as the unsharded solve does (on peer 0, with every peer's rows gathered there), and
/// so take about as many iterations (141 and 121 here, where without polishing the ReLU fixture took
/// 2,846).
#[test]
fn sharded_solves_match_the_unsharded_one() {
    for name in ["relu_binary.npz", "gated_binary.npz"] {
        let fx = Fixture::load(name);
        let config = config(&fx).with_tol(1e-7).with_max_iters(20_000);
        let [x, y, gates] = fx.tensors::<B>(&Default::default(), DType::F64);
        let whole = config.solver().fit_with_gates(x, y, gates).unwrap().report;
        for peers in [1, 2, 4] {
            let sol = sharded(&fx, &config, peers);
            let r = &sol.report;
            let diff = (r.objective - whole.objective).abs() / whole.objective;
            let bound = independent_bound(&fx, &sol.certificate);
            println!(
                "{name}, {peers} peers: objective {} vs unsharded {} ({diff:.1e}), bound {bound} (reported {}), {} iterations ({} unsharded), {:.2}s",
                r.objective, whole.objective, r.lower_bound, r.iterations, whole.iterations, r.seconds
            );
            assert_eq!(r.status, Status::Optimal, "{name}, {peers} peers: {r:?}");
            assert!(diff <= 1e-6, "{name}, {peers} peers: {diff:.2e}");
            assert!(r.polishes >= 1, "{name}, {peers} peers: {r:?}");
            assert!(
                r.iterations <= whole.iterations * 11 / 10,
                "{name}, {peers} peers: {} iterations, {} unsharded",
                r.iterations,
                whole.iterations
            );
            assert_eq!(sol.certificate.shape[0], fx.x.rows);
            assert!(
                (bound - r.lower_bound).abs() <= 1e-6 * fx.objective,
                "{name}, {peers} peers: recomputed bound {bound} vs reported {}",
                r.lower_bound
            );
        }
    }
}

/// In f32 a device's sums over many rows round at about 1e-7 of their terms, enough to put a bound
/// above the optimum; a sharded f32 solve evaluates its bound on the host, each peer over its rows in
/// f64, and adds the peers' sums in f64, so it reports what its certificate proves. The binary
/// fixture repeated 300 times (beta 300 times the fixture's: the optimum is 300 times the
/// fixture's), two peers, 30 iterations: the reported bound is within 3.5e-8 of the optimum of the
/// recomputed one, where the bound evaluated on the device was 5.7e-6 off (the rest is the f32
/// rounding of the scaled data).
#[test]
fn a_sharded_f32_bound_is_what_its_certificate_proves() {
    let one = Fixture::load("relu_binary.npz");
    let copies = 300;
    let repeated = |m: &cronos_datasets::Matrix| cronos_datasets::Matrix {
        rows: m.rows * copies,
        cols: m.cols,
        data: m.data.repeat(copies),
    };
    let fx = Fixture {
        x: repeated(&one.x),
        y: repeated(&one.y),
        beta: one.beta * copies as f64,
        objective: one.objective * copies as f64,
        ..Fixture::load("relu_binary.npz")
    };
    let config = config(&fx).with_max_iters(30);
    let device = Default::default();
    let [x, y, gates] = fx.tensors::<B>(&device, DType::F32);
    let sol = fit_sharded(&config, x, y, Some(gates), &[device, device], None, None).unwrap();
    let r = &sol.report;
    let bound = independent_bound(&fx, &sol.certificate);
    let diff = (r.lower_bound - bound).abs() / fx.objective;
    println!(
        "{} rows, 2 peers, f32: reported bound {} vs recomputed {bound} ({diff:.1e}), optimum {}",
        fx.x.rows, r.lower_bound, fx.objective
    );
    assert!(diff <= 1e-6, "{r:?}");
    assert!(r.lower_bound <= fx.objective, "{r:?}");
}

/// A collective that panics on its `fatal`-th sum: a peer that dies in the middle of a solve.
struct Dying {
    inner: Arc<dyn Collective<B>>,
    sums: AtomicUsize,
    fatal: usize,
}

impl Collective<B> for Dying {
    fn peer(&self) -> usize {
        self.inner.peer()
    }
    fn peers(&self) -> usize {
        self.inner.peers()
    }
    fn sum(&self, t: Tensor<B, 2>) -> Result<Tensor<B, 2>, String> {
        if self.sums.fetch_add(1, Ordering::SeqCst) + 1 == self.fatal {
            panic!("injected failure");
        }
        self.inner.sum(t)
    }
}

/// Peer 1 of 3 dies in the middle of ADMM: every peer returns within seconds with an error that
/// names peer 1, none waits forever in an all-reduce.
#[test]
fn a_peer_that_dies_stops_every_peer_naming_it() {
    let fx = Fixture::load("relu_binary.npz");
    let config = config(&fx).with_max_iters(5_000).with_tol(1e-12);
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let device = Default::default();
        let [x, y, gates] = fx.tensors::<B>(&device, DType::F64);
        let n = fx.x.rows;
        let peers = Peers::<B>::new(3);
        let results: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|peer| {
                    let (start, end) = (peer * n / 3, (peer + 1) * n / 3);
                    let xk = x.clone().narrow(0, start, end - start);
                    let yk = y.clone().narrow(0, start, end - start);
                    let (gates, config, peers) = (gates.clone(), config.clone(), &peers);
                    scope.spawn(move || {
                        peers.run(peer, Default::default(), |collective| {
                            let collective: Arc<dyn Collective<B>> = if peer == 1 {
                                Arc::new(Dying {
                                    inner: collective,
                                    sums: AtomicUsize::new(0),
                                    fatal: 200,
                                })
                            } else {
                                collective
                            };
                            config.solver().fit_shard(xk, yk, Some(gates), collective)
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().map(|s| s.report))
                .collect()
        });
        send.send(results).unwrap();
    });
    let results = receive
        .recv_timeout(Duration::from_secs(120))
        .expect("the peers still wait after 120 s");
    for (peer, result) in results.iter().enumerate() {
        match result {
            Err(CronosError::Peer(message)) => {
                println!("peer {peer}: {message}");
                assert!(
                    message.contains("peer 1 panicked: injected failure"),
                    "{message}"
                );
            }
            other => panic!("peer {peer} did not fail with the dead peer: {other:?}"),
        }
    }
}

/// The same sharded code on wgpu: two peers on one device follow the unsharded wgpu solve (f32, a
/// fixed penalty) for 20 iterations.
#[cfg(feature = "wgpu")]
#[test]
fn two_peers_on_wgpu_follow_one() {
    use burn::backend::Wgpu;
    let fx = Fixture::load("relu_binary.npz");
    let config = config(&fx).with_max_iters(20).with_rho(Some(0.03));
    let device = Default::default();
    let [x, y, gates] = fx.tensors::<Wgpu>(&device, DType::F32);
    let one = config
        .solver()
        .fit_with_gates(x.clone(), y.clone(), gates.clone())
        .unwrap()
        .report;
    let two = fit_sharded(
        &config,
        x,
        y,
        Some(gates),
        &[device.clone(), device],
        None,
        None,
    )
    .unwrap()
    .report;
    let diff = (two.objective - one.objective).abs() / one.objective;
    println!(
        "wgpu, 20 iterations: 2 peers {} vs 1 peer {} ({diff:.1e})",
        two.objective, one.objective
    );
    assert!(diff <= 1e-5, "{two:?}\nvs {one:?}");
    assert_eq!(two.peers, 2);
}

/// Two peers on wgpu solve the ReLU fixture to its certificate (f32, 1e-3): they polish on peer 0
/// with rows gathered and the point shared through the device's collective (in f64, which CI's
/// software Vulkan device holds), and the assembled certificate proves the reported bound.
#[cfg(feature = "wgpu")]
#[test]
fn two_peers_on_wgpu_polish_to_the_certificate() {
    use burn::backend::Wgpu;
    let fx = Fixture::load("relu_binary.npz");
    let config = config(&fx).with_tol(1e-3).with_max_iters(2_000);
    let device = Default::default();
    let [x, y, gates] = fx.tensors::<Wgpu>(&device, DType::F32);
    let devices = [device.clone(), device];
    let sol = fit_sharded(&config, x, y, Some(gates), &devices, None, None).unwrap();
    let r = &sol.report;
    let bound = independent_bound(&fx, &sol.certificate);
    let gap = (r.objective - fx.objective).abs() / fx.objective;
    println!(
        "wgpu, 2 peers: objective {} vs optimum {} ({gap:.1e}), bound {bound} (reported {}), {} iterations, {} polishes",
        r.objective, fx.objective, r.lower_bound, r.iterations, r.polishes
    );
    assert_eq!(r.status, Status::Optimal, "{r:?}");
    assert!(r.polishes >= 1, "{r:?}");
    assert!(gap <= 1e-3, "{r:?}");
    assert!(
        (bound - r.lower_bound).abs() <= 1e-5 * fx.objective,
        "{r:?}"
    );
    assert!(bound <= fx.objective * (1.0 + 1e-7), "{r:?}");
}
