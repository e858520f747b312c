//! Bad input gets a clear error, and awkward but valid problems solve without NaN.

use burn::backend::NdArray;
use burn::prelude::*;
use burn::tensor::DType;
use cronos_core::{host, CronosConfig, CronosError, Formulation, Status};

type B = NdArray<f64>;

fn data(n: usize, d: usize, seed: u64) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let like = Tensor::<B, 2>::zeros([1, 1], &Default::default());
    let x = host::upload(
        cronos_core::patterns::gaussian_gates(n, d, seed),
        [n, d],
        &like,
    );
    let y = x.clone().slice([0..n, 0..1]).sign();
    (x, y)
}

fn config() -> CronosConfig {
    CronosConfig::new()
        .with_neurons(4)
        .with_max_iters(300)
        .with_tol(1e-6)
}

#[test]
fn invalid_parameters_are_named() {
    let (x, y) = data(20, 3, 1);
    let cases = [
        (config().with_beta(-1.0), "beta"),
        (config().with_relative_beta(Some(f64::NAN)), "relative_beta"),
        (config().with_relative_beta(Some(0.0)), "relative_beta"),
        (config().with_rho(Some(0.0)), "rho"),
        (config().with_neurons(0), "neurons"),
        (config().with_memory_budget_gb(-1.0), "memory_budget_gb"),
        (config().with_check_every(0), "check_every"),
    ];
    for (cfg, name) in cases {
        match cfg.solver().fit(x.clone(), y.clone()) {
            Err(CronosError::Parameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("expected a parameter error for {name}, got {other:?}"),
        }
    }
}

#[test]
fn warm_starts_of_another_shape_or_program_are_named() {
    let (x, y) = data(20, 3, 4);
    let sol = config()
        .with_max_iters(5)
        .solver()
        .fit(x.clone(), y.clone())
        .unwrap();
    let two_outputs = Tensor::cat(vec![y.clone(), y.clone()], 1);
    match config()
        .solver()
        .resume(x.clone(), two_outputs, sol.warm_start())
    {
        Err(CronosError::WarmStart { what, .. }) => {
            assert!(what.contains("warm start point"), "{what}")
        }
        other => panic!("expected a warm start shape error, got {other:?}"),
    }
    let gated = config().with_formulation(Formulation::Gated);
    match gated.solver().resume(x, y, sol.warm_start()) {
        Err(CronosError::WarmStart {
            what,
            expected,
            found,
        }) => {
            assert_eq!(what, "warm start formulation");
            assert_eq!((expected.as_str(), found.as_str()), ("gated", "relu"));
        }
        other => panic!("expected a warm start formulation error, got {other:?}"),
    }
}

#[test]
fn shape_and_value_errors() {
    let (x, y) = data(20, 3, 2);
    let short = y.clone().slice([0..10, 0..1]);
    assert!(matches!(
        config().solver().fit(x.clone(), short),
        Err(CronosError::Shape { .. })
    ));
    let gates = Tensor::<B, 2>::ones([4, 2], &Default::default());
    assert!(matches!(
        config()
            .solver()
            .fit_with_gates(x.clone(), y.clone(), gates),
        Err(CronosError::Shape { .. })
    ));
    let bad = x.clone().slice_assign(
        [0..1, 0..1],
        Tensor::from_data([[f64::NAN]], &Default::default()),
    );
    match config().solver().fit(bad, y.clone()) {
        Err(e @ CronosError::NonFinite { .. }) => assert!(e.to_string().contains("X contains 1")),
        other => panic!("expected a non-finite error, got {other:?}"),
    }
    let inf_y = y.slice_assign(
        [3..4, 0..1],
        Tensor::from_data([[f64::INFINITY]], &Default::default()),
    );
    assert!(matches!(
        config().solver().fit(x, inf_y),
        Err(CronosError::NonFinite { what: "Y", .. })
    ));
}

fn assert_sane(sol: &cronos_core::Solution<B>) {
    let r = &sol.report;
    assert!(
        r.objective.is_finite() && r.rel_primal_residual.is_finite(),
        "{r:?}"
    );
    assert!(r.max_constraint_violation.is_finite());
}

#[test]
fn awkward_problems_solve() {
    // n < d with one pattern.
    let (x, y) = data(6, 10, 3);
    let sol = config().with_neurons(1).solver().fit(x, y).unwrap();
    assert_sane(&sol);
    // Duplicate gates and a constant feature, without pattern filtering.
    let (x, y) = data(40, 4, 4);
    let x = x.slice_assign([0..40, 3..4], Tensor::ones([40, 1], &Default::default()));
    let g =
        host::upload(cronos_core::patterns::gaussian_gates(4, 1, 5), [4, 1], &x).repeat_dim(1, 3);
    let sol = config()
        .with_filter_patterns(false)
        .solver()
        .fit_with_gates(x.clone(), y.clone(), g)
        .unwrap();
    assert_sane(&sol);
    assert_eq!(sol.report.patterns, 3);
    // Zero targets: the optimum is the zero network.
    let sol = config()
        .solver()
        .fit(x.clone(), y.clone().zeros_like())
        .unwrap();
    assert_eq!(sol.report.status, Status::Optimal);
    assert!(
        sol.report.objective.abs() < 1e-12 && sol.report.active_neurons == 0,
        "{:?}",
        sol.report
    );
    // Gated program on the same data.
    let sol = config()
        .with_formulation(Formulation::Gated)
        .solver()
        .fit(x, y)
        .unwrap();
    assert_sane(&sol);
}

#[test]
fn observers_can_stop_and_best_point_is_returned() {
    let (x, y) = data(50, 5, 6);
    let mut seen = 0;
    let sol = config()
        .with_tol(1e-12)
        .with_rho(Some(3e-2))
        .solver()
        .with_observer(|r: &cronos_core::IterationRecord| {
            seen = r.iteration;
            if r.iteration >= 7 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        })
        .fit(x, y)
        .unwrap();
    assert_eq!(sol.report.status, Status::Stopped);
    assert_eq!(sol.report.iterations, 7);
    assert_eq!(seen, 7);
    assert_sane(&sol);
}

/// A target column of zeros (an absent class) or of tiny values solves to a finite, certified optimum
/// whose neurons for that column are all zero.
#[test]
fn zero_and_tiny_target_columns_solve() {
    let (x, y) = data(60, 8, 11);
    for scale in [0.0, 1e-12] {
        let y2 = Tensor::cat(vec![y.clone(), y.clone() * scale], 1);
        let sol = config()
            .with_tol(1e-4)
            .with_max_iters(3000)
            .solver()
            .fit(x.clone(), y2.clone())
            .unwrap();
        let r = &sol.report;
        assert!(r.objective.is_finite() && r.objective <= 30.0, "{r:?}");
        assert_eq!(r.status, Status::Optimal, "scale {scale}: {r:?}");
        let second = sol
            .network
            .w2
            .clone()
            .slice([0..sol.network.w2.dims()[0], 1..2]);
        assert!(host::scalar(second.abs().max()) < 1e-3, "scale {scale}");
    }
}

/// With a relative beta the program follows the scale of X (the network absorbs it), so the
/// objective is the same for X and 1e10 X in both precisions and for 1e30 X in f64. In f32, 1e30 X
/// would scale the returned weights by about 1e-30, whose squares underflow: that is an error
/// naming the scale (it used to end in a non-finite iterate, the row norms' squares overflowing).
#[test]
fn data_far_from_unit_scale_solves_or_names_its_scale() {
    let (x, y) = data(60, 8, 12);
    let cfg = config().with_relative_beta(Some(0.1)).with_tol(1e-4);
    let objective = |sol: cronos_core::Solution<B>| {
        assert_eq!(sol.report.status, Status::Optimal, "{:?}", sol.report);
        sol.report.objective
    };
    let reference = objective(cfg.solver().fit(x.clone(), y.clone()).unwrap());
    for scale in [1e10, 1e30] {
        let found = objective(cfg.solver().fit(x.clone() * scale, y.clone()).unwrap());
        assert!(
            (found - reference).abs() <= 1e-6 * reference,
            "f64, X x {scale:e}: {found} vs {reference}"
        );
    }
    let single = |scale: f64| {
        let f32 = |t: Tensor<B, 2>| t.cast(DType::F32);
        cfg.solver().fit(f32(x.clone() * scale), f32(y.clone()))
    };
    let found = single(1e10).unwrap().report;
    assert_eq!(found.status, Status::Optimal, "{found:?}");
    assert!(
        (found.objective - reference).abs() <= 1e-3 * reference,
        "f32, X x 1e10: {} vs {reference}",
        found.objective
    );
    match single(1e30) {
        Err(e @ CronosError::Scale { ratio, .. }) => {
            println!("{e}");
            assert!((1e-32..1e-29).contains(&ratio), "{e}");
        }
        other => panic!("expected a scale error, found {other:?}"),
    }
}
