"""Reference values for cronos-burn/tests/optimizers.rs.

Run with numpy, jax and optax installed (CPU is enough):

    pip install numpy jax optax
    python cronos-burn/tests/reference/reference.py

Yogi and D-Adaptation AdamW are run through optax itself (optax.yogi,
optax.contrib.dadapt_adamw) in float64. D-Adaptation is also written out in
numpy, checked against optax, and used for the `growth_rate` variant that optax
does not have (the `growth_rate` of the authors' PyTorch `DAdaptAdam`).
Shampoo (Gupta, Koren and Singer 2018) has no optax implementation, so it is
written out here in numpy from the paper's update rule, with the blocking,
grafting and momentum options documented in cronos-burn/src/optim/shampoo.rs.

The script prints Rust constants that are pasted into the test file.
"""

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import optax.contrib  # noqa: E402

# Least-squares problem shared by the module-level tests:
# loss(W, b) = 0.5 * sum((X W + b - Y)^2), W: [3, 2], b: [2].
X = np.array(
    [[1.0, -0.5, 0.3], [0.2, 0.8, -1.1], [-0.7, 0.4, 0.9], [0.5, -1.2, 0.6]]
)
Y = np.array([[0.3, -1.0], [1.2, 0.4], [-0.6, 0.8], [0.1, -0.2]])
W0 = np.array([[0.1, -0.2], [0.4, 0.3], [-0.5, 0.2]])
B0 = np.array([0.05, -0.1])


def loss(params):
    w, b = params
    r = X @ w + b - Y
    return 0.5 * jnp.sum(r * r)


def grads(params):
    w, b = params
    r = X @ w + b - Y
    return [X.T @ r, r.sum(axis=0)]


def run_optax(opt, steps):
    params = [jnp.asarray(W0), jnp.asarray(B0)]
    state = opt.init(params)
    for _ in range(steps):
        g = jax.grad(loss)(params)
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
    return [np.asarray(p) for p in params], state


# ---------------------------------------------------------------- D-Adaptation


def dadapt_adamw_numpy(steps, lr, b1, b2, eps, d0, wd, growth_rate):
    """D-Adapt AdamW as in optax.contrib.dadapt_adamw, plus PyTorch's growth_rate."""
    params = [W0.copy(), B0.copy()]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    s = [np.zeros_like(p) for p in params]
    d, numerator = d0, 0.0
    sb2 = np.sqrt(b2)
    for k in range(1, steps + 1):
        g = grads(params)
        dlr = d * lr * np.sqrt(1 - b2**k) / (1 - b1**k)
        acc = sum(
            np.vdot(gi, si / (np.sqrt(vi) + eps)) for gi, si, vi in zip(g, s, v)
        )
        m = [b1 * mi + (1 - b1) * dlr * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        s = [sb2 * si + (1 - sb2) * dlr * gi for si, gi in zip(s, g)]
        l1 = sum(np.abs(si).sum() for si in s)
        numerator = sb2 * numerator + (1 - sb2) * dlr * acc
        d_hat = numerator / ((1 - sb2) * l1)
        d = max(d, min(d_hat, d * growth_rate))
        params = [
            p - wd * dlr * p - mi / (np.sqrt(vi) + eps)
            for p, mi, vi in zip(params, m, v)
        ]
    return params, d


# --------------------------------------------------------------------- Shampoo


def inverse_root(stat, p, eps):
    """(stat + eps I)^(-1/p) for a symmetric PSD matrix, by eigendecomposition."""
    w, q = np.linalg.eigh(stat)
    return (q * (np.maximum(w, 0.0) + eps) ** (-1.0 / p)) @ q.T


def ranges(n, size):
    return [(a, min(a + size, n)) for a in range(0, n, size)]


class ShampooTensor:
    """Shampoo state of one parameter, viewed as a [rows, cols] matrix."""

    def __init__(self, shape, cfg):
        dims = [d for d in shape if d > 1]
        if len(dims) <= 1:
            self.rows, self.cols, self.left = 1, (dims[0] if dims else 1), False
        else:
            self.rows, self.cols, self.left = int(np.prod(dims[:-1])), dims[-1], True
        self.cfg = cfg
        self.p = cfg["exponent_override"] or 2 * (2 if self.left else 1)
        self.blocks = {
            (r, c): {
                "L": np.zeros((r[1] - r[0], r[1] - r[0])),
                "R": np.zeros((c[1] - c[0], c[1] - c[0])),
            }
            for r in ranges(self.rows, cfg["block_size"])
            for c in ranges(self.cols, cfg["block_size"])
        }
        self.graft = np.zeros((self.rows, self.cols))
        self.mom = np.zeros((self.rows, self.cols))
        self.t = 0

    def step(self, x, g, lr):
        cfg = self.cfg
        self.t += 1
        shape = x.shape
        g = g.reshape(self.rows, self.cols)
        recompute = (self.t - 1) % cfg["update_interval"] == 0
        pre = np.zeros_like(g)
        for (r, c), blk in self.blocks.items():
            gb = g[r[0] : r[1], c[0] : c[1]]
            for side, outer in (("L", gb @ gb.T), ("R", gb.T @ gb)):
                if cfg["beta_2"] == 1.0:
                    blk[side] = blk[side] + outer
                else:
                    b2 = cfg["beta_2"]
                    blk[side] = b2 * blk[side] + (1 - b2) * outer
            if recompute:
                blk["Rr"] = inverse_root(blk["R"], self.p, cfg["epsilon"])
                if self.left:
                    blk["Lr"] = inverse_root(blk["L"], self.p, cfg["epsilon"])
            pb = gb @ blk["Rr"]
            if self.left:
                pb = blk["Lr"] @ pb
            pre[r[0] : r[1], c[0] : c[1]] = pb
        if cfg["grafting"] == "sgd":
            pre = pre * (np.linalg.norm(g) / (np.linalg.norm(pre) + 1e-16))
        elif cfg["grafting"] == "adagrad":
            self.graft = self.graft + g * g
            a = g / (np.sqrt(self.graft) + cfg["grafting_epsilon"])
            pre = pre * (np.linalg.norm(a) / (np.linalg.norm(pre) + 1e-16))
        if cfg["momentum"] > 0.0:
            self.mom = cfg["momentum"] * self.mom + pre
            pre = self.mom
        return x - lr * pre.reshape(shape)


SHAMPOO_DEFAULTS = dict(
    block_size=128,
    epsilon=1e-4,
    update_interval=1,
    beta_2=1.0,
    momentum=0.0,
    exponent_override=None,
    grafting="none",
    grafting_epsilon=1e-10,
)


def shampoo_lsq(steps, lr, **overrides):
    cfg = dict(SHAMPOO_DEFAULTS, **overrides)
    params = [W0.copy(), B0.copy()]
    states = [ShampooTensor(p.shape, cfg) for p in params]
    for _ in range(steps):
        g = grads(params)
        params = [s.step(p, gi, lr) for s, p, gi in zip(states, params, g)]
    return params


def synthetic_grad(t, n):
    """Gradient sequence of the rank-3 Shampoo test: sin(1.3 t + 0.7 k), k = flat index."""
    return np.sin(1.3 * t + 0.7 * np.arange(n))


def shampoo_rank3(steps, lr, **overrides):
    cfg = dict(SHAMPOO_DEFAULTS, **overrides)
    shape = (2, 2, 3)
    n = int(np.prod(shape))
    x = (0.1 * np.arange(n) - 0.5).reshape(shape)
    state = ShampooTensor(shape, cfg)
    for t in range(1, steps + 1):
        x = state.step(x, synthetic_grad(t, n).reshape(shape), lr)
    return x


# ----------------------------------------------------------------------- print


def rust_array(name, values):
    flat = ", ".join(repr(float(v)) for v in np.asarray(values).ravel())
    n = np.asarray(values).size
    print(f"const {name}: [f64; {n}] = [{flat}];")


def rust_scalar(name, value):
    print(f"const {name}: f64 = {float(value)!r};")


def main():
    # Yogi: optax.yogi with its defaults (b1 0.9, b2 0.999, eps 1e-3,
    # both accumulators start at 1e-6).
    (w, b), _ = run_optax(optax.yogi(learning_rate=0.05), steps=5)
    rust_array("YOGI_W", w)
    rust_array("YOGI_B", b)
    custom = optax.chain(
        optax.scale_by_yogi(b1=0.8, b2=0.99, eps=1e-4, initial_accumulator_value=0.01),
        optax.scale_by_learning_rate(0.1),
    )
    (w, b), _ = run_optax(custom, steps=5)
    rust_array("YOGI_CUSTOM_W", w)
    rust_array("YOGI_CUSTOM_B", b)

    # D-Adaptation AdamW: optax.contrib.dadapt_adamw, and the numpy transcription.
    dadapt = optax.contrib.dadapt_adamw(learning_rate=1.0, weight_decay=0.1)
    (w, b), state = run_optax(dadapt, steps=10)
    (nw, nb), nd = dadapt_adamw_numpy(10, 1.0, 0.9, 0.999, 1e-8, 1e-6, 0.1, np.inf)
    assert np.allclose(w, nw, rtol=1e-13, atol=1e-15)
    assert np.allclose(b, nb, rtol=1e-13, atol=1e-15)
    assert np.isclose(float(state.estim_lr), nd, rtol=1e-13)
    rust_array("DADAPT_W", w)
    rust_array("DADAPT_B", b)
    rust_scalar("DADAPT_D", state.estim_lr)
    (w, b), d = dadapt_adamw_numpy(10, 0.5, 0.8, 0.99, 1e-6, 1e-3, 0.0, 1.5)
    rust_array("DADAPT_GROWTH_W", w)
    rust_array("DADAPT_GROWTH_B", b)
    rust_scalar("DADAPT_GROWTH_D", d)

    # Shampoo on the least-squares problem: defaults, then blocks of 2 with every option on.
    w, b = shampoo_lsq(5, 0.1)
    rust_array("SHAMPOO_W", w)
    rust_array("SHAMPOO_B", b)
    w, b = shampoo_lsq(
        6,
        0.05,
        block_size=2,
        epsilon=1e-3,
        update_interval=2,
        beta_2=0.9,
        momentum=0.5,
        exponent_override=3.0,
        grafting="adagrad",
    )
    rust_array("SHAMPOO_OPTIONS_W", w)
    rust_array("SHAMPOO_OPTIONS_B", b)
    # A rank-3 tensor [2, 2, 3] seen as a [4, 3] matrix, cut into 2 x 2 blocks,
    # with SGD grafting.
    x = shampoo_rank3(4, 0.1, block_size=2, grafting="sgd")
    rust_array("SHAMPOO_RANK3", x)


if __name__ == "__main__":
    main()
