//! Convex reformulation of two-layer ReLU networks (CRONOS).
