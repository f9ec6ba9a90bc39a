//! Bad indices: every index op checks its index tensor in its backend call and names the op, the
//! bad value's position in the index tensor and the value (negative, fractional, NaN, out of
//! range), in either float dtype and through strided views.

use gradus_tensor::{DType, Tensor, TensorError};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

/// The bad values and what the error says of each, for an axis of size 3.
const BAD: [(f64, &str); 5] = [
    (-1.0, "is negative"),
    (1.5, "is not a whole number"),
    (f64::NAN, "is not a whole number"),
    (3.0, "is out of range for an axis of size 3"),
    (1e30, "is out of range for an axis of size 3"),
];

/// Runs `op` with an index tensor of `shape` (f32 and f64) holding valid indices except `bad` at
/// row-major position `at`, and checks the whole message.
fn check(
    name: &str,
    shape: &[usize],
    at: usize,
    position: &str,
    op: impl Fn(&Tensor) -> Result<Tensor, TensorError>,
) {
    let n: usize = shape.iter().product();
    for (bad, problem) in BAD {
        let mut v: Vec<f64> = (0..n).map(|i| (i % 3) as f64).collect();
        v[at] = bad;
        for dtype in [DType::F32, DType::F64] {
            let index = t(&v, shape).to_dtype(dtype).unwrap();
            let err = op(&index).unwrap_err();
            // the message shows the value the index tensor holds (f32 rounds 1e30)
            let shown = match dtype {
                DType::F32 => bad as f32 as f64,
                _ => bad,
            };
            assert_eq!(
                err.to_string(),
                format!("{name}: index {shown} at position {position} {problem}"),
                "{dtype:?}"
            );
        }
    }
}

#[test]
fn index_select_names_the_position_and_the_value() {
    let x = Tensor::zeros(&[3, 2], DType::F32);
    check("index_select", &[4], 2, "[2]", |i| x.index_select(0, i));
}

#[test]
fn index_add_names_the_position_and_the_value() {
    let x = Tensor::zeros(&[2, 3], DType::F64);
    let src = Tensor::ones(&[2, 4], DType::F64);
    check("index_add", &[4], 3, "[3]", |i| x.index_add(1, i, &src));
}

#[test]
fn gather_names_the_position_and_the_value() {
    let x = Tensor::zeros(&[2, 3], DType::F32);
    check("gather", &[2, 2], 1, "[0, 1]", |i| x.gather(1, i));
    // the position is in the index as the op sees it: a transposed view's coordinates
    let x = Tensor::zeros(&[3, 2], DType::F32);
    check("gather", &[2, 3], 1, "[1, 0]", |i| x.gather(0, &i.t()?));
}

#[test]
fn scatter_add_names_the_position_and_the_value() {
    let x = Tensor::zeros(&[3, 2], DType::F64);
    let src = Tensor::ones(&[4, 2], DType::F64);
    check("scatter_add", &[4, 2], 5, "[2, 1]", |i| {
        x.scatter_add(0, i, &src)
    });
}

#[test]
fn one_hot_names_the_position_and_the_value() {
    check("one_hot", &[2, 2], 3, "[1, 1]", |i| {
        Tensor::one_hot(i, 3, DType::F32)
    });
}

#[test]
fn a_failed_index_op_records_no_graph() {
    // an op that failed left no graph behind: the input's gradient is untouched
    let x = Tensor::zeros(&[3, 2], DType::F64).requires_grad_(true);
    assert!(x.index_select(0, &t(&[5.0], &[1])).is_err());
    let ok = x.index_select(0, &t(&[2.0, 2.0], &[2])).unwrap();
    ok.sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![0.0, 0.0, 0.0, 0.0, 2.0, 2.0]
    );
}

#[test]
fn f32_indices_are_exact_up_to_2_pow_24() {
    // 2^24 is the last whole number from which f32 reaches every smaller one; f64 goes on to 2^53
    let n = (1usize << 24) + 2;
    let x = Tensor::zeros(&[1, 1], DType::F32);
    let last = Tensor::from_vec(vec![(n - 1) as f64], &[1]).unwrap();
    // 2^24 + 1 rounds to 2^24 in f32: an f64 index keeps it
    assert_eq!(
        last.to_dtype(DType::F32).unwrap().to_vec::<f32>().unwrap(),
        vec![16_777_216.0]
    );
    let err = x.index_select(0, &last).unwrap_err();
    assert_eq!(
        err.to_string(),
        "index_select: index 16777217 at position [0] is out of range for an axis of size 1"
    );
}
