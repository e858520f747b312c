//! The pieces of the solver checked against their mathematical definitions, in f64.

use burn::backend::NdArray;
use burn::prelude::*;
use cronos_core::host;
use cronos_core::network::map_to_network;
use cronos_core::nystrom::Nystrom;
use cronos_core::operator::ConvexOperator;
use cronos_core::patterns::{gaussian_gates, Patterns};
use cronos_core::pcg::{self, Iterate};
use cronos_core::precond::Sketches;
use cronos_core::Formulation;
use nalgebra::{DMatrix, DVector};

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
    let patterns = Patterns::sample(&x, 4, 2, true).unwrap();
    let op = ConvexOperator::new(x, patterns.mask.clone(), formulation);
    (op, patterns)
}

/// The matrix of a linear map on `d x B` points (one output), column by column.
fn dense(op: &ConvexOperator<B>, f: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>) -> DMatrix<f64> {
    let n1 = op.d() * op.blocks();
    let eye = Tensor::<B, 2>::eye(n1, &Default::default());
    let cols = f(eye.reshape([op.d(), op.blocks() * n1]));
    host::to_matrix(cols.reshape([n1, n1]))
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
fn pcg_matches_direct_solve() {
    for formulation in [Formulation::Relu, Formulation::Gated] {
        let (op, _) = problem(formulation);
        let rho = 0.05;
        let a = dense(&op, |u| op.apply_a(&u, rho).0);
        let c = 2;
        let rhs = gaussian(op.d(), op.blocks() * c, 7);
        // Low-rank sketches so PCG has work to do.
        let n1 = op.d() * op.blocks();
        let ftf = Nystrom::new(gaussian(n1, 6, 8), |w| op.ftf(w)).unwrap();
        let gram = (formulation == Formulation::Relu)
            .then(|| Nystrom::new(gaussian(op.d(), 2, 9), |w| op.gram(w)).unwrap());
        let pre = Sketches::new(gram, ftf, op.d())
            .preconditioner(rho)
            .unwrap();
        // The start is for another rho, so PCG recomputes its products.
        let start = Iterate::new(&op, rhs.zeros_like(), 2.0 * rho);
        let sol = pcg::solve(&op, &pre, rho, rhs.clone(), start, 1e-8, 500);
        assert_eq!(sol.a_products, sol.iterations + 1);
        assert!(
            sol.residuals.iter().all(|&r| r <= 1e-8),
            "{formulation:?}: {:?} after {} iterations",
            sol.residuals,
            sol.iterations
        );
        // Direct solve of each output's system.
        let b = host::to_matrix(rhs.reshape([n1, c]));
        let u = host::to_matrix(sol.point.u.clone().reshape([n1, c]));
        let direct = a.clone().lu().solve(&b).unwrap();
        let err = (&u - &direct).norm() / direct.norm();
        assert!(
            err < 1e-6,
            "{formulation:?}: PCG vs LU relative error {err}"
        );
        // X Z and A U are tracked exactly through the iterations.
        let (au, xz) = op.apply_a(&sol.point.u, rho);
        let xz_err = host::scalar((sol.point.xz - xz).abs().max());
        assert!(xz_err < 1e-9, "tracked X Z drifted by {xz_err}");
        let au_err = host::scalar((sol.point.au - au).abs().max());
        assert!(au_err < 1e-9, "tracked A U drifted by {au_err}");
    }
}

#[test]
fn full_rank_preconditioner_is_the_inverse() {
    let (op, _) = problem(Formulation::Relu);
    let rho = 2.0;
    let n1 = op.d() * op.blocks();
    let ftf = Nystrom::new(gaussian(n1, n1, 10), |w| op.ftf(w)).unwrap();
    let gram = Nystrom::new(gaussian(op.d(), op.d(), 11), |w| op.gram(w)).unwrap();
    let pre = Sketches::new(Some(gram), ftf, op.d())
        .preconditioner(rho)
        .unwrap();
    let u = gaussian(op.d(), op.blocks() * 2, 12);
    let back = pre.apply(op.apply_a(&u, rho).0);
    let err = host::scalar((back - u.clone()).abs().max()) / host::scalar(u.abs().max());
    assert!(err < 1e-8, "P^-1 A u differs from u by {err}");
}

#[test]
fn preconditioner_reduces_condition_number() {
    let (op, _) = problem(Formulation::Relu);
    let rho = 0.01;
    let a = dense(&op, |u| op.apply_a(&u, rho).0);
    let n1 = op.d() * op.blocks();
    let ftf = Nystrom::new(gaussian(n1, 10, 13), |w| op.ftf(w)).unwrap();
    let gram = Nystrom::new(gaussian(op.d(), 3, 14), |w| op.gram(w)).unwrap();
    let pre = Sketches::new(Some(gram), ftf, op.d())
        .preconditioner(rho)
        .unwrap();
    let pinv = dense(&op, |u| pre.apply(u));
    let cond = |m: &DMatrix<f64>| {
        let e = m.clone().symmetric_eigen().eigenvalues;
        e.max() / e.min()
    };
    // P^-1/2 A P^-1/2 has the spectrum of P^-1 A; symmetrize through the Cholesky factor of P^-1.
    let l = pinv.clone().cholesky().unwrap().l();
    let pa = l.transpose() * &a * &l;
    let (before, after) = (cond(&a), cond(&pa));
    assert!(
        after < before / 10.0,
        "condition number {before} -> {after}"
    );
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

#[test]
fn exact_low_rank_sketch_of_ftf() {
    let (op, _) = problem(Formulation::Gated);
    let n1 = op.d() * op.blocks();
    let exact = dense(&op, |u| {
        let k = u.dims()[1] / op.blocks();
        op.ftf(u.reshape([n1, k]))
            .reshape([op.d(), op.blocks() * k])
    });
    // F^T F has rank <= n = 30 > n1 = 20 here, so a full sketch reproduces it.
    let nys = Nystrom::new(gaussian(n1, n1, 15), |w| op.ftf(w)).unwrap();
    let u = host::to_matrix(nys.basis.clone());
    let approx =
        &u * DMatrix::from_diagonal(&DVector::from_vec(nys.eigenvalues.clone())) * u.transpose();
    let err = (approx - &exact).norm() / exact.norm();
    assert!(err < 1e-8, "relative error {err}");
}
