//! The pieces of the solver checked against their mathematical definitions, in f64.

use burn::backend::NdArray;
use burn::prelude::*;
use cronos_core::host;
use cronos_core::network::map_to_network;
use cronos_core::operator::ConvexOperator;
use cronos_core::patterns::{gaussian_gates, Patterns};
use cronos_core::{Formulation, GateSampling};
use nalgebra::DMatrix;

type B = NdArray<f64>;

fn gaussian(rows: usize, cols: usize, seed: u64) -> Tensor<B, 2> {
    let like = Tensor::<B, 2>::zeros([1, 1], &Default::default());
    host::upload(gaussian_gates(rows, cols, seed), [rows, cols], &like)
}

fn dot(a: Tensor<B, 2>, b: Tensor<B, 2>) -> f64 {
    host::scalar((a * b).sum())
}

fn problem(formulation: Formulation) -> (ConvexOperator<B>, Patterns<B>) {
    // Columns of decreasing scale give X^T X and F^T F the decaying spectra of real data.
    let scales = host::upload(vec![10.0, 3.0, 1.0, 0.3, 0.1], [1, 5], &gaussian(1, 1, 0));
    let x = gaussian(30, 5, 1) * scales;
    let patterns = Patterns::sample(&x, 4, 2, GateSampling::Independent, true).unwrap();
    let op = ConvexOperator::new(x, patterns.mask.clone(), formulation);
    (op, patterns)
}

#[test]
fn adjoint_identities_hold() {
    for formulation in [Formulation::Relu, Formulation::Gated] {
        let (op, _) = problem(formulation);
        let c = 3;
        let u = gaussian(op.d(), op.blocks() * c, 3);
        let r = gaussian(op.n(), c, 4);
        let fu = op.f_from_xu(op.xu(&u));
        let lhs = dot(fu, r.clone());
        let rhs = dot(u.clone(), op.ft(r));
        assert!(
            (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
            "<Fu,r> {lhs} vs <u,F^T r> {rhs}"
        );
        if formulation == Formulation::Relu {
            let z = gaussian(op.n(), op.blocks() * c, 5);
            let gu = op.g_from_xu(op.xu(&u)).unwrap();
            let lhs = dot(gu, z.clone());
            let rhs = dot(u, op.gt(z).unwrap());
            assert!(
                (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
                "<Gu,z> {lhs} vs <u,G^T z> {rhs}"
            );
        }
    }
}

/// The masks spread once for the output count give the products that spreading them in every
/// product gives, and other output counts still work.
#[test]
fn masks_spread_for_the_outputs_change_no_product() {
    for formulation in [Formulation::Relu, Formulation::Gated] {
        let (plain, _) = problem(formulation);
        let spread = plain.clone().with_outputs(3);
        for c in [3, 2] {
            let u = gaussian(plain.d(), plain.blocks() * c, 7);
            let r = gaussian(plain.n(), c, 8);
            let z = gaussian(plain.n(), plain.blocks() * c, 9);
            let same = |a: Tensor<B, 2>, b: Tensor<B, 2>| {
                assert_eq!(a.into_data(), b.into_data(), "{formulation:?}, c = {c}");
            };
            let (xu_plain, xu_spread) = (plain.xu(&u), spread.xu(&u));
            same(
                plain.f_from_xu(xu_plain.clone()),
                spread.f_from_xu(xu_spread.clone()),
            );
            same(plain.ft(r.clone()), spread.ft(r));
            same(
                plain.network_output(xu_plain.clone()),
                spread.network_output(xu_spread.clone()),
            );
            assert_eq!(
                plain.max_violation(xu_plain.clone()),
                spread.max_violation(xu_spread.clone())
            );
            if formulation == Formulation::Relu {
                same(
                    plain.g_from_xu(xu_plain).unwrap(),
                    spread.g_from_xu(xu_spread).unwrap(),
                );
                same(plain.gt(z.clone()).unwrap(), spread.gt(z).unwrap());
            }
        }
    }
}

#[test]
fn a_equals_its_definition() {
    let (op, _) = problem(Formulation::Relu);
    let rho = 0.3;
    let u = gaussian(op.d(), op.blocks() * 2, 6);
    let (au, xz) = op.apply_a(&u, rho);
    let xu = op.xu_from_xz(&u, xz.clone());
    let xu_err = host::scalar((xu.clone() - op.xu(&u)).abs().max());
    assert!(xu_err < 1e-12, "X U from X Z is off by {xu_err}");
    let fu = op.f_from_xz(xz);
    let gu = op.g_from_xu(xu).unwrap();
    let expect = u.clone() + op.ft(fu) / rho + op.gt(gu).unwrap();
    let err = host::scalar((au - expect.clone()).abs().max()) / host::scalar(expect.abs().max());
    assert!(err < 1e-12, "relative error {err}");
}

#[test]
fn mapping_reproduces_convex_outputs_when_feasible() {
    let (op, patterns) = problem(Formulation::Relu);
    let (d, p, c) = (op.d(), op.patterns(), 2);
    // v_i = a g_i satisfies (2 D_i - I) X v_i >= 0 by the definition of D_i for any a >= 0.
    let weights: Vec<f64> = (0..2 * p * c)
        .map(|j| if j % 3 == 0 { 0.0 } else { 0.5 + j as f64 })
        .collect();
    let g = host::to_matrix(patterns.gates.clone());
    let v = DMatrix::from_fn(d, 2 * p * c, |row, col| {
        g[(row, (col / c) % p)] * weights[col]
    });
    let v = host::upload_matrix(&v, op.x());
    let xv = op.xu(&v);
    assert!(op.max_violation(xv.clone()) <= 1e-12);
    let convex = op.f_from_xu(xv);
    let net = map_to_network(&op, &patterns.gates, &v, None).unwrap();
    assert_eq!(net.width(), weights.iter().filter(|&&w| w > 0.0).count());
    let out = net.forward(op.x().clone());
    let err = host::scalar((out - convex.clone()).abs().max()) / host::scalar(convex.abs().max());
    assert!(err < 1e-12, "network vs convex outputs differ by {err}");
    // The weight-decay term equals the group-lasso term.
    let decay = (host::scalar(net.w1.clone().square().sum())
        + host::scalar(net.w2.clone().square().sum()))
        / 2.0;
    let lasso = host::scalar(v.square().sum_dim(0).sqrt().sum());
    assert!((decay - lasso).abs() < 1e-10 * lasso, "{decay} vs {lasso}");
}
