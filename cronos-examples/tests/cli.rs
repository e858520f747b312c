//! End-to-end tests of the `cronos` binary: fits on NPZ problems and the embedded Fashion-MNIST
//! subset, saved models that predict what the solver reported (on raw inputs, through the saved
//! preprocessing), dataset summaries, Ctrl-C, and one-line errors with exit status 2 for bad input.
//!
//! The solver is still being tuned, so these tests check properties of the results (finite, within a
//! margin of reference optima, consistent with each other), not exact numbers.

#[cfg(unix)]
mod common;

use burn::backend::flex::{Flex, FlexDevice};
use burn::prelude::*;
use cronos_burn::model::TwoLayerMlp;
use cronos_datasets::npy::{read_npy_matrix, read_npz_matrix};
use cronos_datasets::Matrix;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn cronos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cronos"))
        .args(args)
        .output()
        .expect("cannot run the cronos binary")
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

fn succeeded(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cronos failed ({}): {stderr}",
        out.status
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn num(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("report field `{key}` missing or not a number: {report}"))
}

/// Runs a command that must fail: exit status 2 and one `error:` line on stderr naming `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let out = cronos(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {stderr}");
    assert!(lines[0].starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        lines[0].contains(needle),
        "{args:?}: `{needle}` not in {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

/// A little-endian float64 `.npy` file holding `rows x cols` values.
fn write_npy(path: &Path, rows: usize, cols: usize, values: &[f64]) {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn squared_norm(t: Tensor<Flex, 2>) -> f64 {
    t.square().sum().into_scalar().elem::<f64>()
}

fn to_tensor(m: &Matrix) -> Tensor<Flex, 2> {
    m.to_tensor::<Flex>(&FlexDevice)
}

#[test]
fn fit_npz_problem_then_saved_model_reproduces_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let problem = fixture("relu_binary.npz");
    let report_path = dir.path().join("out/report.json");
    let model = dir.path().join("models/model.bpk");
    let trace = dir.path().join("trace.jsonl");
    let certificate = dir.path().join("certs/cert.npz");
    let stdout = succeeded(&cronos(&[
        "fit",
        "--data",
        path(&problem),
        "--certificate",
        path(&certificate),
        "--gates",
        path(&problem),
        "--beta",
        "1e-2",
        "--rho",
        "3e-2",
        "--max-iters",
        "500",
        "--report",
        path(&report_path),
        "--save-model",
        path(&model),
        "--trace",
        path(&trace),
    ]));
    assert!(stdout.contains("report written to"), "{stdout}");

    let report = read_json(&report_path);
    let reference = read_npz_matrix::<f64>(&problem, "objective").unwrap().data[0];
    let objective = num(&report, "objective");
    assert!(objective.is_finite(), "{report}");
    // The network's objective is near the certified optimum of the same program.
    assert!(
        (objective - reference).abs() <= 0.1 * reference,
        "objective {objective} vs reference {reference}"
    );
    let iterations = num(&report, "iterations");
    assert!((1.0..=500.0).contains(&iterations), "{report}");
    assert!(num(&report, "pcg_iterations") >= 1.0);
    assert!(num(&report, "seconds") >= 0.0);
    for key in [
        "max_constraint_violation",
        "rel_primal_residual",
        "rel_dual_residual",
        "rho",
    ] {
        assert!(num(&report, key).is_finite(), "{key}: {report}");
    }
    let active = num(&report, "active_neurons");
    assert!((1.0..=16.0).contains(&active), "{report}");
    let train_accuracy = num(&report, "train_accuracy");
    assert!(train_accuracy > 0.9, "{report}");
    assert!(
        report.get("val_accuracy").is_none(),
        "no validation data: {report}"
    );
    assert_eq!(report["device"], "flex");
    assert_eq!(report["precision"], "f32");
    assert_eq!(report["config"]["beta"], 1e-2);
    assert_eq!(
        report["config"]["neurons"], 8,
        "P comes from the gates file"
    );
    assert_eq!(report["data"]["n"], 300);
    assert!(["optimal", "max_iterations"].contains(&report["status"].as_str().unwrap()));

    // The certificate holds the network and a dual point whose bound is the reported one, below the
    // reference optimum (weak duality).
    let cert = |name: &str| read_npz_matrix::<f32>(&certificate, name).unwrap();
    let bound = num(&report, "lower_bound");
    assert_eq!(f64::from(cert("lower_bound").data[0]) as f32, bound as f32);
    assert_eq!(
        f64::from(cert("objective").data[0]) as f32,
        objective as f32
    );
    assert!(
        bound <= reference * (1.0 + 1e-6),
        "bound {bound} vs optimum {reference}"
    );
    assert_eq!(cert("z").rows, 300);
    assert_eq!(cert("gates").cols, 8);
    assert_eq!(cert("W1").cols, cert("W2").rows);

    // One JSON line per iteration, written while solving.
    let lines: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len() as f64, iterations);
    assert_eq!(lines[0]["iteration"], 1);
    assert!(lines
        .iter()
        .all(|l| l["objective"].is_number() && l["rho"].is_number()));

    // `cronos predict` with the saved model gives predictions whose objective and accuracy are the
    // reported ones, and which equal the model loaded here.
    let pred_path = dir.path().join("pred.npy");
    let stdout = succeeded(&cronos(&[
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&problem),
        "--out",
        path(&pred_path),
    ]));
    assert!(stdout.contains("300 x 1 predictions"), "{stdout}");
    let pred = read_npy_matrix::<f32>(&pred_path).unwrap();
    assert_eq!((pred.rows, pred.cols), (300, 1));

    let net = TwoLayerMlp::<Flex>::load(&model, &FlexDevice).unwrap();
    let x = to_tensor(&read_npz_matrix::<f32>(&problem, "X").unwrap());
    let y = to_tensor(&read_npz_matrix::<f32>(&problem, "Y").unwrap());
    let ours = net.forward(x);
    let diff = squared_norm(ours.clone() - to_tensor(&pred)).sqrt();
    assert!(
        diff <= 1e-5 * squared_norm(ours.clone()).sqrt(),
        "predictions differ by {diff}"
    );

    let loss = squared_norm(to_tensor(&pred) - y.clone()) / 2.0;
    let weights = squared_norm(net.hidden.weight.val()) + squared_norm(net.output.weight.val());
    let recomputed = loss + 1e-2 / 2.0 * weights;
    assert!(
        (recomputed - objective).abs() <= 1e-4 * objective,
        "saved model objective {recomputed} vs reported {objective}"
    );
    let accuracy = cronos_core::accuracy(to_tensor(&pred), y);
    assert_eq!(accuracy, train_accuracy);
}

/// An `.npz` archive of float64 arrays `(name, rows, cols, values)`.
fn write_npz(path: &Path, arrays: &[(&str, usize, usize, &[f64])]) {
    use npyz::WriterBuilder;
    let mut npz = npyz::npz::NpzWriter::create(path).unwrap();
    for &(name, rows, cols, values) in arrays {
        let mut writer = npz
            .array::<f64>(name, Default::default())
            .unwrap()
            .default_dtype()
            .shape(&[rows as u64, cols as u64])
            .begin_nd()
            .unwrap();
        writer.extend(values.iter().copied()).unwrap();
        writer.finish().unwrap();
    }
}

/// Fits the tiny fixture problem and saves the model as `model.bpk` in `dir`.
fn fit_tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("model.bpk");
    succeeded(&cronos(&[
        "fit",
        "--data",
        path(&fixture("relu_tiny.npz")),
        "--max-iters",
        "50",
        "--quiet",
        "--report",
        path(&dir.join("report.json")),
        "--save-model",
        path(&model),
    ]));
    model
}

#[test]
fn predict_refuses_damaged_models_and_warns_on_unverified_ones() {
    let dir = tempfile::tempdir().unwrap();
    let model = fit_tiny_model(dir.path());
    let out = dir.path().join("pred.npy");
    let tiny = fixture("relu_tiny.npz");
    let predict = [
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&tiny),
        "--out",
        path(&out),
    ];
    let good = std::fs::read(&model).unwrap();

    // Two flipped bytes in the weights.
    let mut bytes = good.clone();
    let n = bytes.len();
    bytes[n - 3] ^= 0x10;
    bytes[n - 11] ^= 0x02;
    std::fs::write(&model, &bytes).unwrap();
    fails_with(&predict, "differs from");
    fails_with(&predict, "model.bpk.json");
    // A truncated copy.
    std::fs::write(&model, &good[..n / 2]).unwrap();
    fails_with(&predict, "SHA-256");

    // A sidecar whose shape does not describe the weights.
    std::fs::write(&model, &good).unwrap();
    let sidecar = dir.path().join("model.bpk.json");
    let original = std::fs::read_to_string(&sidecar).unwrap();
    let mut json: Value = serde_json::from_str(&original).unwrap();
    json["hidden"] = (json["hidden"].as_u64().unwrap() + 1).into();
    std::fs::write(&sidecar, json.to_string()).unwrap();
    fails_with(&predict, "field `hidden`");

    // A model saved before checksums were recorded loads, with a warning.
    let mut json: Value = serde_json::from_str(&original).unwrap();
    json.as_object_mut().unwrap().remove("sha256");
    std::fs::write(&sidecar, json.to_string()).unwrap();
    let output = cronos(&predict);
    succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("records no checksum"),
        "{stderr}"
    );
}

#[test]
fn predict_rejects_targets_of_another_row_count_and_warns_on_zero_one_targets() {
    let dir = tempfile::tempdir().unwrap();
    let model = fit_tiny_model(dir.path());
    let x = read_npz_matrix::<f32>(&fixture("relu_tiny.npz"), "X").unwrap();
    let xs: Vec<f64> = x.data.iter().map(|&v| f64::from(v)).collect();
    let inputs = dir.path().join("inputs.npz");
    let out = dir.path().join("pred.npy");
    let predict = [
        "predict",
        "--model",
        path(&model),
        "--data",
        path(&inputs),
        "--out",
        path(&out),
    ];
    let ys = vec![1.0; x.rows + 1];
    write_npz(
        &inputs,
        &[("X", x.rows, x.cols, &xs), ("Y", x.rows + 1, 1, &ys)],
    );
    fails_with(
        &predict,
        &format!("X has {} rows but Y has {}", x.rows, x.rows + 1),
    );

    let zero_one: Vec<f64> = (0..x.rows).map(|i| (i % 2) as f64).collect();
    write_npz(
        &inputs,
        &[("X", x.rows, x.cols, &xs), ("Y", x.rows, 1, &zero_one)],
    );
    let output = cronos(&predict);
    succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the targets are 0/1"), "{stderr}");
}

/// Raw features of very different scales and offsets (`n x 6`) and +-1 targets, from `seed`.
fn raw_problem(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (scale, offset) = (
        [1.0, 10.0, 100.0, 0.1, 1e3, 5.0],
        [0.0, 50.0, -300.0, 2.0, 1e4, 0.0],
    );
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let z: Vec<f64> = (0..6).map(|_| rng.random::<f64>() - 0.5).collect();
        x.extend((0..6).map(|j| offset[j] + scale[j] * z[j]));
        y.push(if z[0] - z[1] + 0.5 * z[2] > 0.0 {
            1.0
        } else {
            -1.0
        });
    }
    (x, y)
}

#[test]
fn predict_applies_the_saved_preprocessing_to_raw_inputs() {
    use cronos_datasets::{Granularity, Projection, Scaler, Scaling};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    for (name, n, seed) in [("", 120, 1), ("_test", 40, 2)] {
        let (x, y) = raw_problem(n, seed);
        write_npy(&data.join(format!("X{name}.npy")), n, 6, &x);
        write_npy(&data.join(format!("Y{name}.npy")), n, 1, &y);
    }
    let report_path = dir.path().join("report.json");
    let model = dir.path().join("model.bpk");
    let model_arg = path(&model);
    succeeded(&cronos(&[
        "fit",
        "--dataset",
        "npy",
        "--data-dir",
        path(&data),
        "--scale",
        "standardize",
        "--pca",
        "3",
        "--neurons",
        "8",
        "--max-iters",
        "300",
        "--quiet",
        "--report",
        path(&report_path),
        "--save-model",
        model_arg,
    ]));
    let report = read_json(&report_path);
    assert_eq!(report["data"]["d"], 3);
    let sidecar = dir.path().join("model.bpk.preprocess.json");
    let saved = std::fs::read_to_string(&sidecar).unwrap();

    // Raw test inputs give the fit-time network's outputs on the inputs preprocessed as fit did.
    let raw_test = data.join("X_test.npy");
    let pred_path = dir.path().join("pred.npy");
    let pred_arg = path(&pred_path);
    let predict = |data: &Path| {
        cronos(&[
            "predict",
            "--model",
            model_arg,
            "--data",
            path(data),
            "--out",
            pred_arg,
        ])
    };
    succeeded(&predict(&raw_test));
    let pred = read_npy_matrix::<f32>(&pred_path).unwrap();
    let mut train = read_npy_matrix::<f32>(&data.join("X.npy")).unwrap();
    let scaler = Scaler::fit(&train, Scaling::Standardize, Granularity::PerFeature).unwrap();
    scaler.apply(&mut train).unwrap();
    let pca = Projection::pca(&train, 3).unwrap();
    let mut test = read_npy_matrix::<f32>(&raw_test).unwrap();
    scaler.apply(&mut test).unwrap();
    let test = pca.apply(&test).unwrap();
    let net = TwoLayerMlp::<Flex>::load(&model, &FlexDevice).unwrap();
    let expected = net.forward(to_tensor(&test));
    let diff = squared_norm(expected.clone() - to_tensor(&pred)).sqrt();
    assert!(
        diff <= 1e-5 * squared_norm(expected).sqrt(),
        "predictions differ by {diff}"
    );

    // On the dataset's test split (the validation data of the fit) the accuracy is the reported one.
    let stdout = succeeded(&cronos(&[
        "predict",
        "--model",
        model_arg,
        "--dataset",
        "npy",
        "--data-dir",
        path(&data),
        "--out",
        pred_arg,
    ]));
    let accuracy = format!("accuracy {:.4}", num(&report, "val_accuracy"));
    assert!(stdout.contains(&accuracy), "{stdout} vs {accuracy}");

    // Raw inputs of the wrong width, and preprocessing whose output the model does not take.
    let narrow = dir.path().join("narrow.npy");
    write_npy(&narrow, 2, 5, &[1.0; 10]);
    let args = [
        "predict",
        "--model",
        model_arg,
        "--data",
        path(&narrow),
        "--out",
        pred_arg,
    ];
    fails_with(&args, "narrow.npy: expected 6 features, found 5");
    fails_with(&args, "model.bpk.preprocess.json");
    let args = [
        "predict",
        "--model",
        model_arg,
        "--data",
        path(&raw_test),
        "--out",
        pred_arg,
    ];
    std::fs::write(
        &sidecar,
        r#"{"input_dim": 6, "scaler": null, "projection": null}"#,
    )
    .unwrap();
    fails_with(&args, "takes 3 features, the preprocessing in");

    // A corrupt file is named with the field at fault.
    std::fs::write(&sidecar, "{\"input_dim\": 6,").unwrap();
    fails_with(&args, "model.bpk.preprocess.json is corrupt");
    let mut value: Value = serde_json::from_str(&saved).unwrap();
    value["scaler"]["scale"].as_array_mut().unwrap().pop();
    std::fs::write(&sidecar, value.to_string()).unwrap();
    fails_with(&args, "field scaler.scale");
    value.as_object_mut().unwrap().remove("projection");
    std::fs::write(&sidecar, value.to_string()).unwrap();
    fails_with(&args, "missing field `projection`");

    // Without the file the model takes its inputs as they are, as models saved before did.
    std::fs::remove_file(&sidecar).unwrap();
    fails_with(&args, "takes 3 features, the inputs have 6");
}

#[test]
fn fit_gated_in_f64() {
    let dir = tempfile::tempdir().unwrap();
    let problem = fixture("gated_binary.npz");
    let report_path = dir.path().join("report.json");
    succeeded(&cronos(&[
        "fit",
        "--data",
        path(&problem),
        "--gates",
        path(&problem),
        "--formulation",
        "gated",
        "--beta",
        "1e-2",
        "--precision",
        "f64",
        "--max-iters",
        "300",
        "--quiet",
        "--report",
        path(&report_path),
    ]));
    let report = read_json(&report_path);
    let reference = read_npz_matrix::<f64>(&problem, "objective").unwrap().data[0];
    let objective = num(&report, "objective");
    assert!(
        (objective - reference).abs() <= 0.1 * reference,
        "{objective} vs {reference}"
    );
    assert_eq!(report["formulation"], "gated");
    assert_eq!(report["precision"], "f64");
}

/// Ten rows `(1e8 + 1, 1e8)` labelled +1 and ten rows `(1e8, 1e8 + 1)` labelled -1, as float64:
/// the classes differ only below the resolution of f32, whose spacing at 1e8 is 8.
fn write_offset_problem(path: &Path) {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..10 {
        x.extend([1e8 + 1.0, 1e8, 1e8, 1e8 + 1.0]);
        y.extend([1.0, -1.0]);
    }
    write_npz(path, &[("X", 20, 2, &x), ("Y", 20, 1, &y)]);
}

/// Fits with `extra` arguments and returns the report.
fn fit_report(dir: &Path, extra: &[&str]) -> Value {
    let report = dir.join("report.json");
    let mut args = vec!["fit", "--quiet", "--report", path(&report)];
    args.extend_from_slice(extra);
    succeeded(&cronos(&args));
    read_json(&report)
}

#[test]
fn float64_data_stays_float64_up_to_an_f64_solve() {
    let dir = tempfile::tempdir().unwrap();
    let problem = dir.path().join("offset.npz");
    write_offset_problem(&problem);
    let problem = path(&problem);

    // Standardized in f64 the two features are exactly +-1: a network of norm about sqrt(2)
    // fits the targets, so the objective is about beta * sqrt(2).
    let standardized = [
        "--dataset",
        "npz",
        "--data-dir",
        problem,
        "--scale",
        "standardize",
        "--max-iters",
        "300",
    ];
    let report = fit_report(
        dir.path(),
        &[&standardized[..], &["--precision", "f64"]].concat(),
    );
    assert_eq!(num(&report, "train_accuracy"), 1.0, "{report}");
    let objective = num(&report, "objective");
    assert!(objective < 0.01, "{objective}");
    assert_eq!(report["precision"], "f64");
    // Read as f32 the file is rounded once: both features become constant 1e8, nothing is
    // left to fit, and the objective is |Y|^2 / 2 = 10. The zero network's outputs are ties, which
    // count as the first class (-1): half of the balanced targets.
    let report = fit_report(
        dir.path(),
        &[&standardized[..], &["--precision", "f32"]].concat(),
    );
    assert_eq!(num(&report, "active_neurons"), 0.0, "{report}");
    assert_eq!(num(&report, "train_accuracy"), 0.5, "{report}");
    assert!((num(&report, "objective") - 10.0).abs() < 1e-3, "{report}");

    // Unscaled, the f64 solve still tells the rows apart (in f32 they are identical). Its
    // objective stays near 10 within a few hundred iterations: the rows differ by 1e-8 of their
    // norm, so the program the solver sees has a condition number near 1e16.
    let report = fit_f64(dir.path(), problem);
    assert_eq!(num(&report, "train_accuracy"), 1.0, "{report}");
}

/// The report of `fit --data problem --precision f64 --max-iters 300`.
fn fit_f64(dir: &Path, problem: &str) -> Value {
    fit_report(
        dir,
        &[
            "--data",
            problem,
            "--precision",
            "f64",
            "--max-iters",
            "300",
        ],
    )
}

#[test]
fn float64_beyond_the_f32_range_needs_f64() {
    let dir = tempfile::tempdir().unwrap();
    let problem = dir.path().join("huge.npz");
    write_npz(
        &problem,
        &[
            ("X", 2, 2, &[1e39, 1.0, 1.0, 1e39]),
            ("Y", 2, 1, &[1.0, -1.0]),
        ],
    );
    let problem = path(&problem);
    let report = fit_f64(dir.path(), problem);
    assert_eq!(num(&report, "train_accuracy"), 1.0, "{report}");
    assert!(num(&report, "objective").is_finite(), "{report}");

    let report = dir.path().join("f32.json");
    let args = ["fit", "--data", problem, "--report", path(&report)];
    fails_with(
        &args,
        "huge.npz:X: value 1e39 at row 0, column 0 does not fit float32",
    );
    fails_with(&args, "use --precision f64");
    let mut as_dataset = vec!["fit", "--dataset", "npz", "--data-dir", problem];
    as_dataset.extend_from_slice(&["--precision", "f32", "--report", path(&report)]);
    fails_with(&as_dataset, "does not fit float32: use --precision f64");
    assert!(!report.exists());
}

#[test]
fn fit_embedded_fashion_mnist() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    succeeded(&cronos(&[
        "fit",
        "--dataset",
        "fashion-mnist",
        "--classes",
        "2,8",
        "--train-limit",
        "500",
        "--report",
        path(&report_path),
    ]));
    let report = read_json(&report_path);
    assert!(num(&report, "objective").is_finite());
    assert!(num(&report, "iterations") >= 1.0);
    let val = num(&report, "val_accuracy");
    assert!(val > 0.8, "val accuracy {val}: {report}");
    let data = &report["data"];
    assert_eq!(data["classes"], serde_json::json!(["Pullover", "Bag"]));
    assert_eq!(data["targets"], "signed");
    assert_eq!(data["scale"], "unit");
    assert_eq!(data["validation"], "test-split");
    assert_eq!(data["d"], 784);
    assert_eq!(data["n_val"], 400, "the test split of classes 2 and 8");
    let n = data["n"].as_u64().unwrap();
    assert!((490..=500).contains(&n), "{n} training samples");
}

#[test]
fn default_data_is_embedded_pullover_vs_bag_and_pca_applies() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    succeeded(&cronos(&[
        "fit",
        "--train-limit",
        "200",
        "--pca",
        "20",
        "--val-fraction",
        "0.2",
        "--quiet",
        "--report",
        path(&report_path),
    ]));
    let report = read_json(&report_path);
    let data = &report["data"];
    assert_eq!(data["classes"], serde_json::json!(["Pullover", "Bag"]));
    assert_eq!(data["d"], 20);
    assert_eq!(data["validation"], "split-off");
    assert_eq!(data["n_val"], 400, "20% of the 2000 training images");
    assert_eq!(data["n_test"], 400);
    assert!(num(&report, "val_accuracy") > 0.5);
    assert!(num(&report, "test_accuracy") > 0.5);
}

#[test]
fn data_info_prints_the_embedded_splits() {
    let stdout = succeeded(&cronos(&["data", "info", "fashion-mnist"]));
    let (train, test) = stdout.split_once("test:").expect("a test section");
    assert!(train.contains("samples 10000, features 784"), "{stdout}");
    assert!(train.contains("classes 10"), "{stdout}");
    let counts: Vec<&str> = train
        .lines()
        .filter(|l| l.trim_end().ends_with(" 1000"))
        .collect();
    assert_eq!(counts.len(), 10, "{stdout}");
    assert!(train.contains("Ankle boot"));
    assert!(test.contains("samples 2000"), "{stdout}");
}

#[test]
fn data_info_of_an_oversized_image_size_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let class = dir.path().join("cat");
    std::fs::create_dir(&class).unwrap();
    image::ImageBuffer::from_fn(30, 30, |x, y| image::Rgb([x as u8, y as u8, 0]))
        .save(class.join("a.png"))
        .unwrap();
    let root = path(dir.path());
    fails_with(
        &["data", "info", "image-folder:100000", "--data-dir", root],
        "image size must be in 1..=4096, found 100000: a 100000x100000 RGB image needs 111.8 GiB",
    );
    let stdout = succeeded(&cronos(&[
        "data",
        "info",
        "image-folder:8",
        "--data-dir",
        root,
    ]));
    assert!(stdout.contains("samples 1, features 192"), "{stdout}");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let report = path(&report);
    let tiny = fixture("relu_tiny.npz");
    let tiny = path(&tiny);

    fails_with(
        &["fit", "--data", "/no/such/problem.npz", "--report", report],
        "/no/such/problem.npz",
    );
    fails_with(
        &["fit", "--device", "tpu", "--report", report],
        "unknown device `tpu`",
    );
    fails_with(&["fit", "--beta", "-1", "--report", report], "--beta");
    fails_with(
        &["fit", "--relative-beta", "0", "--report", report],
        "--relative-beta",
    );
    fails_with(
        &[
            "fit",
            "--beta",
            "1",
            "--relative-beta",
            "0.1",
            "--report",
            report,
        ],
        "--relative-beta",
    );
    fails_with(
        &["fit", "--max-iters", "0", "--report", report],
        "--max-iters",
    );
    fails_with(&["fit", "--tol", "abc", "--report", report], "--tol");
    fails_with(&["fit", "--precision", "f16", "--report", report], "f16");
    fails_with(
        &["fit", "--formulation", "tanh", "--report", report],
        "tanh",
    );
    fails_with(
        &["fit", "--classes", "2,12", "--report", report],
        "class 12",
    );
    fails_with(
        &[
            "fit",
            "--data",
            tiny,
            "--classes",
            "1,2",
            "--report",
            report,
        ],
        "--classes",
    );
    fails_with(
        &["compare", "--head-relative-beta=-1"],
        "--head-relative-beta",
    );
    fails_with(&["compare", "--head-beta", "nan"], "--head-beta");
    fails_with(&["data", "info", "imagenet"], "imagenet");
    fails_with(&["data", "info", "mnist"], "mnist");
    // Backends reach this binary through feature unification across the workspace, so only CUDA,
    // which no test build enables, is certain to be missing.
    if !cfg!(feature = "cuda") {
        fails_with(&["fit", "--device", "cuda", "--report", report], "cuda");
    }

    // Gate vectors with a NaN, and of the wrong shape.
    let nan = dir.path().join("nan.npy");
    let mut values = vec![0.5; 12];
    values[3] = f64::NAN;
    write_npy(&nan, 12, 1, &values);
    fails_with(
        &[
            "fit",
            "--data",
            tiny,
            "--gates",
            path(&nan),
            "--report",
            report,
        ],
        "NaN",
    );
    let narrow = dir.path().join("narrow.npy");
    write_npy(&narrow, 5, 2, &[1.0; 10]);
    fails_with(
        &[
            "fit",
            "--data",
            tiny,
            "--gates",
            path(&narrow),
            "--report",
            report,
        ],
        "features",
    );
    // A fixture array that is not a problem (`X` has no `Y` partner of the right shape).
    let not_a_problem = dir.path().join("x.npy");
    write_npy(&not_a_problem, 2, 2, &[1.0; 4]);
    fails_with(
        &["fit", "--data", path(&not_a_problem), "--report", report],
        "x.npy",
    );
    fails_with(
        &[
            "predict",
            "--model",
            "/no/model.bpk",
            "--data",
            tiny,
            "--out",
            report,
        ],
        "/no/model.bpk",
    );
    assert!(!Path::new(report).exists(), "no report after a failure");
}

/// A fit of a ten-class problem with an unreachable tolerance, which runs until stopped, tracing to
/// `trace` and reporting to `report`, with `extra` arguments.
#[cfg(unix)]
fn endless_fit<'a>(trace: &'a Path, report: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "fit",
        "--dataset",
        "fashion-mnist",
        "--train-limit",
        "1000",
        "--tol",
        "1e-14",
        "--max-iters",
        "100000",
        "--time-limit",
        "120",
        "--trace",
        path(trace),
        "--report",
        path(report),
    ];
    args.extend_from_slice(extra);
    args
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_and_still_writes_the_report() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let trace = dir.path().join("trace.jsonl");
    let args = endless_fit(&trace, &report_path, &[]);
    let code = common::ctrl_c_after_lines(&args, &trace, 2, Duration::from_secs(60));
    assert_eq!(code, Some(130));
    let report = read_json(&report_path);
    assert_eq!(report["status"], "stopped");
    assert_eq!(report["interrupted"], true);
    assert!(num(&report, "objective").is_finite());
    assert!(num(&report, "val_accuracy") > 0.0);
}

#[test]
fn fit_checks_output_paths_before_reading_data() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, b"not a directory").unwrap();
    let under_file = file.join("out.json");
    let (dir_path, under_file) = (path(dir.path()), path(&under_file));
    let report = dir.path().join("report.json");
    let report = path(&report);
    // The data does not exist either: an error naming the output flag shows the outputs were
    // checked first.
    fn fit<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["fit", "--data", "/no/such/problem.npz"];
        args.extend_from_slice(extra);
        args
    }
    for (extra, needle) in [
        (vec!["--report", dir_path], "--report"),
        (vec!["--report", under_file], "--report"),
        (
            vec!["--report", report, "--save-model", dir_path],
            "--save-model",
        ),
        (
            vec!["--report", report, "--certificate", under_file],
            "--certificate",
        ),
        (vec!["--report", report, "--trace", dir_path], "--trace"),
        (
            vec!["--report", report, "--certificate", report],
            "same file as --report",
        ),
    ] {
        fails_with(&fit(&extra), needle);
    }
    fails_with(&fit(&["--report", dir_path]), "found a directory");
    if cfg!(target_os = "linux") {
        // A location where nothing can be created, even by root.
        fails_with(
            &fit(&["--report", "/proc/self/report.json"]),
            "--report /proc/self/report.json: cannot create",
        );
    }
    fails_with(
        &[
            "predict",
            "--model",
            "/no/model.bpk",
            "--data",
            "/no/x.npy",
            "--out",
            dir_path,
        ],
        "--out",
    );
    assert!(!Path::new(report).exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[cfg(unix)]
#[test]
fn fit_writes_the_report_when_the_model_cannot_be_saved() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let trace = dir.path().join("trace.jsonl");
    let models = dir.path().join("models");
    let model = models.join("m.bpk");
    let args = endless_fit(&trace, &report_path, &["--save-model", path(&model)]);
    // The model's directory passes the check, then becomes a file while the solve runs.
    let code = common::ctrl_c_after_lines_and(&args, &trace, 2, Duration::from_secs(60), || {
        std::fs::remove_dir_all(&models).unwrap();
        std::fs::write(&models, b"in the way").unwrap();
    });
    assert_eq!(code, Some(2), "a missing model is an error");
    let report = read_json(&report_path);
    assert_eq!(report["status"], "stopped");
    assert!(num(&report, "objective").is_finite());
    assert!(report.get("model").is_none(), "{report}");
    let errors = report["output_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert!(errors[0].as_str().unwrap().starts_with("--save-model"));
}

#[test]
fn fit_refuses_a_hundred_thousand_neurons_on_eight_features_before_solving() {
    let dir = tempfile::tempdir().unwrap();
    let problem = dir.path().join("d8.npz");
    let x: Vec<f64> = (0..200 * 8)
        .map(|i| f64::from(i * 37 % 101) / 50.0 - 1.0)
        .collect();
    let y: Vec<f64> = (0..200)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    write_npz(&problem, &[("X", 200, 8, &x), ("Y", 200, 1, &y)]);
    let report = dir.path().join("report.json");
    let args = [
        "fit",
        "--data",
        path(&problem),
        "--neurons",
        "100000",
        "--report",
        path(&report),
    ];
    fails_with(&args, "more than --memory-budget 2");
    fails_with(&args, "GB (the iterates take");
    assert!(!report.exists());
}

/// A fit whose exact u-step core does not fit what the memory budget leaves says so before its
/// first iteration, with the shortfall, and takes the PCG path; with room for the core it says
/// nothing. 100 x 30 data with 16 patterns: the sample-space core (100 x 100, 200 kB) fits 0.6 MB
/// but not 0.4 MB, of which the data and iterates take about 355 kB.
#[test]
fn fit_says_why_its_u_step_is_pcg() {
    let dir = tempfile::tempdir().unwrap();
    let problem = dir.path().join("d30.npz");
    let x: Vec<f64> = (0..100 * 30)
        .map(|i| f64::from(i * 37 % 101) / 50.0 - 1.0)
        .collect();
    let y: Vec<f64> = (0..100)
        .map(|i| if i % 3 == 0 { 1.0 } else { -1.0 })
        .collect();
    write_npz(&problem, &[("X", 100, 30, &x), ("Y", 100, 1, &y)]);
    let report = dir.path().join("report.json");
    let fit = |budget: &str| {
        let args = ["fit", "--data", path(&problem), "--max-iters", "5"];
        let out = cronos(
            &[
                &args[..],
                &["--memory-budget", budget, "--report", path(&report)],
            ]
            .concat(),
        );
        succeeded(&out);
        (
            String::from_utf8_lossy(&out.stderr).into_owned(),
            read_json(&report),
        )
    };
    let (stderr, pcg) = fit("0.0004");
    assert_eq!(pcg["u_step"], "pcg", "{pcg}");
    let notice = stderr.lines().next().unwrap_or_default();
    assert!(notice.starts_with("u-step: PCG"), "{stderr}");
    assert!(notice.contains("the exact core needs 200 kB"), "{stderr}");
    assert!(notice.contains("raising --memory-budget by"), "{stderr}");
    let (stderr, exact) = fit("0.0006");
    assert_ne!(exact["u_step"], "pcg", "{exact}");
    assert!(!stderr.contains("u-step"), "{stderr}");
}

/// Same inputs, seed and thread count give the same bits (`cronos-examples/README.md`, "Limits"):
/// the report's numbers and the saved weights of two runs are compared exactly, on the exact (eigen)
/// u-step path and on the PCG path over data large enough (6,000 x 784) for the backend's parallel
/// sums.
#[test]
fn fit_twice_with_the_same_seed_and_threads_gives_the_same_bits() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 2] = [
        &["--max-iters", "12"],
        &[
            "--dataset",
            "fashion-mnist",
            "--train-limit",
            "6000",
            "--max-iters",
            "2",
            "--memory-budget",
            "1",
        ],
    ];
    for (case, extra) in cases.iter().enumerate() {
        let run = |attempt: usize| {
            let report = dir.path().join(format!("{case}-{attempt}.json"));
            let model = dir.path().join(format!("{case}-{attempt}.bpk"));
            let mut args = vec!["fit", "-q", "--report", path(&report)];
            args.extend_from_slice(&["--save-model", path(&model)]);
            args.extend_from_slice(extra);
            let out = Command::new(env!("CARGO_BIN_EXE_cronos"))
                .env("RAYON_NUM_THREADS", "2")
                .args(&args)
                .output()
                .unwrap();
            succeeded(&out);
            // The weights, not the file's bytes: a record also holds the parameters' random ids.
            let net = TwoLayerMlp::<Flex>::load(&model, &FlexDevice).unwrap();
            let bits = |t: Tensor<Flex, 2>| -> Vec<u32> {
                let data = t.into_data().convert::<f32>();
                data.as_slice::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect()
            };
            let weights = [bits(net.hidden.weight.val()), bits(net.output.weight.val())];
            (read_json(&report), weights)
        };
        let (first, first_model) = run(0);
        let (second, second_model) = run(1);
        for key in [
            "objective",
            "lower_bound",
            "rel_primal_residual",
            "rel_dual_residual",
            "max_constraint_violation",
            "val_accuracy",
        ] {
            assert_eq!(
                num(&first, key).to_bits(),
                num(&second, key).to_bits(),
                "case {case}: {key} differs"
            );
        }
        assert!(
            first_model == second_model,
            "case {case}: the weights differ"
        );
    }
}

/// `--shards 3` splits the fixture's 300 rows over three peers: the same certified objective as the
/// unsharded fit, and a certificate with every row whose bound is the reported one.
#[test]
fn fit_sharded_over_three_peers_matches_the_unsharded_fit() {
    let problem = fixture("relu_binary.npz");
    let beta = read_npz_matrix::<f64>(&problem, "beta").unwrap().data[0].to_string();
    let fit = |shards: &str| {
        let dir = tempfile::tempdir().unwrap();
        let certificate = dir.path().join("cert.npz");
        let report = fit_report(
            dir.path(),
            &[
                "--data",
                path(&problem),
                "--gates",
                path(&problem),
                "--beta",
                &beta,
                "--precision",
                "f64",
                "--tol",
                "1e-7",
                "--max-iters",
                "20000",
                "--shards",
                shards,
                "--certificate",
                path(&certificate),
            ],
        );
        let z_rows = read_npz_matrix::<f64>(&certificate, "z").unwrap().rows;
        let bound = read_npz_matrix::<f64>(&certificate, "lower_bound")
            .unwrap()
            .data[0];
        (report, z_rows, bound)
    };
    let (whole, _, _) = fit("1");
    let (sharded, z_rows, bound) = fit("3");
    let (a, b) = (num(&whole, "objective"), num(&sharded, "objective"));
    assert_eq!(sharded["status"], "optimal");
    assert!((a - b).abs() <= 1e-6 * a, "{b} sharded vs {a}");
    assert_eq!(num(&sharded, "peers"), 3.0);
    assert_eq!(num(&sharded, "n"), 300.0);
    assert_eq!(z_rows, 300);
    // serde_json's default float parsing may miss the last bit.
    let reported = num(&sharded, "lower_bound");
    assert!(
        (bound - reported).abs() <= 1e-12 * reported.abs(),
        "{bound} vs {reported}"
    );
}
