//! Memory and time limits: a solve too large for the memory budget is refused before it allocates,
//! and a time limit or stop that falls in set-up ends the solve at once with a valid point.

use burn::backend::NdArray;
use burn::prelude::*;
use cronos_core::{host, CronosConfig, CronosError, Formulation, Status, UStepPath};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

type B = NdArray<f64>;

fn data(n: usize, d: usize) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let like = Tensor::<B, 2>::zeros([1, 1], &Default::default());
    let x = host::upload(
        cronos_core::patterns::gaussian_gates(n, d, 3),
        [n, d],
        &like,
    );
    let y = x.clone().slice([0..n, 0..1]).sign();
    (x, y)
}

fn memory_error(result: cronos_core::Result<impl std::fmt::Debug>) -> (f64, f64, String) {
    match result {
        Err(CronosError::Memory {
            needed_gb,
            budget_gb,
            largest,
        }) => (needed_gb, budget_gb, largest),
        other => panic!("expected a memory error, got {other:?}"),
    }
}

#[test]
fn a_hundred_thousand_neurons_on_eight_features_are_refused_before_allocating() {
    let (x, y) = data(1000, 8);
    let config = CronosConfig::new().with_neurons(100_000);
    let (needed, budget, largest) = memory_error(config.solver().fit(x.clone(), y.clone()));
    assert_eq!(budget, 2.0);
    assert!(needed > budget, "{needed} GB");
    assert!(largest.starts_with("the iterates"), "{largest}");
    // User gates of that count meet the same check.
    let gates = host::upload(
        cronos_core::patterns::gaussian_gates(8, 100_000, 1),
        [8, 100_000],
        &x,
    );
    memory_error(CronosConfig::new().solver().fit_with_gates(x, y, gates));
}

#[test]
fn the_budget_bounds_every_solve_and_the_default_admits_small_ones() {
    let (x, y) = data(60, 5);
    for formulation in [Formulation::Relu, Formulation::Gated] {
        let config = CronosConfig::new()
            .with_formulation(formulation)
            .with_max_iters(5);
        let tiny = config.clone().with_memory_budget_gb(1e-6);
        let (needed, _, _) = memory_error(tiny.solver().fit(x.clone(), y.clone()));
        assert!(
            needed > 1e-6 && needed < 1e-2,
            "{formulation:?}: {needed} GB"
        );
        assert!(config.solver().fit(x.clone(), y.clone()).is_ok());
    }
}

/// Checks a solve that set-up cut short: one iteration on the cheapest path, and a point whose
/// certificate is still a valid bound.
fn cut_short(config: CronosConfig, stop: bool, expected: Status) {
    let (x, y) = data(300, 20);
    let mut solver = config.with_neurons(64).solver();
    if stop {
        solver = solver.with_stop_flag(Arc::new(AtomicBool::new(true)));
    }
    let report = solver.fit(x, y).unwrap().report;
    assert_eq!(report.status, expected);
    assert_eq!(
        report.iterations, 1,
        "no rho sweep after set-up: {report:?}"
    );
    assert_eq!(report.sweep_iterations, 0);
    assert_eq!(
        report.u_step,
        UStepPath::Pcg,
        "no factorization was waited for"
    );
    assert!(report.objective.is_finite());
    assert!(report.lower_bound <= report.objective * (1.0 + 1e-12));
}

#[test]
fn a_time_limit_reached_during_set_up_ends_the_solve_after_one_iteration() {
    cut_short(
        CronosConfig::new().with_time_limit(Some(1e-9)),
        false,
        Status::TimeLimit,
    );
}

#[test]
fn a_stop_during_set_up_ends_the_solve_after_one_iteration() {
    cut_short(CronosConfig::new(), true, Status::Stopped);
}
