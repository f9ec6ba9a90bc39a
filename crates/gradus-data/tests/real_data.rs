//! Every reader on the real data shipped in the repository's `data/` folder.

mod common;

use common::{repo_data, TempDir};
use gradus_data::csv::{read_csv, CsvOptions};
use gradus_data::libsvm::read_libsvm;
use gradus_data::text::{read_text, CharVocab, TextDataset};
use gradus_data::{mnist, TargetKind};

fn classes(file: &str) -> gradus_data::Dataset {
    read_csv(
        repo_data(file),
        &CsvOptions::new("target", TargetKind::Class),
    )
    .unwrap()
}

#[test]
fn iris_is_150_by_4_with_3_balanced_classes() {
    let iris = classes("sklearn/iris.csv");
    assert_eq!((iris.len(), iris.feature_shape()), (150, &[4][..]));
    assert_eq!(iris.class_counts(), Some(vec![50, 50, 50]));
    assert_eq!(iris.sample(0), &[5.1, 3.5, 1.4, 0.2]);
}

#[test]
fn wine_breast_cancer_and_digits_have_sklearn_shapes() {
    let wine = classes("sklearn/wine.csv");
    assert_eq!((wine.len(), wine.feature_len()), (178, 13));
    assert_eq!(wine.class_counts(), Some(vec![59, 71, 48]));
    let bc = classes("sklearn/breast_cancer.csv");
    assert_eq!((bc.len(), bc.feature_len()), (569, 30));
    assert_eq!(bc.class_counts(), Some(vec![212, 357]));
    assert_eq!(&bc.sample(0)[..3], &[17.99, 10.38, 122.8]);
    let digits = classes("sklearn/digits.csv");
    assert_eq!((digits.len(), digits.feature_len()), (1797, 64));
    assert_eq!(digits.class_counts().unwrap()[..3], [178, 182, 177]);
    assert!(digits.features().iter().all(|&v| (0.0..=16.0).contains(&v)));
}

#[test]
fn diabetes_is_a_regression_set() {
    let opts = CsvOptions::new("target", TargetKind::Value);
    let ds = read_csv(repo_data("sklearn/diabetes.csv"), &opts).unwrap();
    assert_eq!(
        (ds.len(), ds.feature_len(), ds.num_classes()),
        (442, 10, None)
    );
    assert_eq!(ds.targets().values().unwrap()[0], 151.0);
    assert_eq!(ds.sample(0)[0], 0.038_075_906_f32);
}

#[test]
fn feature_columns_can_be_chosen_by_name() {
    let opts = CsvOptions::new("target", TargetKind::Class)
        .features(&["petal width (cm)", "sepal length (cm)"]);
    let iris = read_csv(repo_data("sklearn/iris.csv"), &opts).unwrap();
    assert_eq!(iris.sample(0), &[0.2, 5.1]);
    let two_targets = CsvOptions::new("x", TargetKind::Value)
        .targets(&["sepal length (cm)", "target"])
        .features(&["petal length (cm)"]);
    let ds = read_csv(repo_data("sklearn/iris.csv"), &two_targets).unwrap();
    assert_eq!(ds.targets().values().unwrap()[..2], [5.1, 0.0]);
    assert_eq!(
        ds.batch(&[0]).y,
        gradus_data::Targets::Values {
            values: vec![5.1, 0.0],
            dim: 2
        }
    );
}

#[test]
fn house_prices_follow_the_documented_line() {
    let opts = CsvOptions::new("price", TargetKind::Value).features(&["area"]);
    let ds = read_csv(repo_data("house-prices.csv"), &opts).unwrap();
    assert_eq!((ds.len(), ds.feature_len()), (50, 1));
    let (x, y) = (ds.features(), ds.targets().values().unwrap());
    let n = x.len() as f64;
    let mx = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let my = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let sxy: f64 = x
        .iter()
        .zip(y)
        .map(|(&a, &b)| (f64::from(a) - mx) * (f64::from(b) - my))
        .sum();
    let sxx: f64 = x.iter().map(|&a| (f64::from(a) - mx).powi(2)).sum();
    let slope = sxy / sxx;
    assert!((slope - 0.12).abs() < 0.01, "slope {slope}");
    assert!(
        (my - slope * mx - 50.0).abs() < 15.0,
        "intercept {}",
        my - slope * mx
    );
}

#[test]
fn mnist_train_has_the_canonical_label_counts() {
    let train = mnist::load(repo_data("mnist"), mnist::Split::Train).unwrap();
    assert_eq!(
        (train.len(), train.feature_shape()),
        (60000, &[1, 28, 28][..])
    );
    let counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
    assert_eq!(train.class_counts(), Some(counts.to_vec()));
    let x = train.features();
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    assert!((mean - 0.1307).abs() < 1e-3, "pixel mean {mean}");
    assert_eq!(x.iter().copied().fold(f32::MIN, f32::max), 1.0);
    assert_eq!(x.iter().copied().fold(f32::MAX, f32::min), 0.0);
}

#[test]
fn fashion_mnist_loads_through_the_same_function() {
    let train = mnist::load(repo_data("fashion-mnist"), mnist::Split::Train).unwrap();
    assert_eq!(train.class_counts(), Some(vec![6000; 10]));
    let test = mnist::load(repo_data("fashion-mnist"), mnist::Split::Test).unwrap();
    assert_eq!(test.class_counts(), Some(vec![1000; 10]));
}

#[test]
fn mnist_loads_uncompressed_files_too() {
    let gz = mnist::load(repo_data("mnist"), mnist::Split::Test).unwrap();
    let dir = TempDir::new();
    for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        let packed = std::fs::read(repo_data(&format!("mnist/{name}.gz"))).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut raw)
            .unwrap();
        dir.write(name, raw);
    }
    let plain = mnist::load(&dir.path, mnist::Split::Test).unwrap();
    assert_eq!(plain.len(), 10000);
    assert!(plain == gz);
}

#[test]
fn heart_scale_is_270_by_13() {
    let heart = read_libsvm(repo_data("libsvm/heart_scale"), TargetKind::Class, None).unwrap();
    assert_eq!((heart.len(), heart.x.n_cols()), (270, 13));
    let dense = heart.to_dense(None).unwrap();
    assert_eq!(dense.class_counts(), Some(vec![150, 120]));
    // first line: +1 1:0.708333 2:1 3:1 4:-0.320755 ... 10:-0.225806 12:1 13:-1
    assert_eq!(dense.targets().labels().unwrap()[0], 1);
    assert_eq!(&dense.sample(0)[9..], &[-0.225806, 0.0, 1.0, -1.0]);
    assert!(dense.features().iter().all(|v| (-1.0..=1.0).contains(v)));
}

/// The first 1000 lines of LIBSVM's `a9a.t` (shipped as `data/libsvm/a9a-t-first1000`): their
/// largest index is 121 of a9a's 123 features, so `n_features` must pad them to the training width.
#[test]
fn a9a_test_rows_pad_to_the_123_training_features() {
    let path = repo_data("libsvm/a9a-t-first1000");
    let test = read_libsvm(&path, TargetKind::Class, None).unwrap();
    assert_eq!(
        (test.len(), test.x.n_cols(), test.x.nnz()),
        (1000, 121, 13869)
    );
    let padded = read_libsvm(&path, TargetKind::Class, Some(123)).unwrap();
    assert_eq!(padded.x.n_cols(), 123);
    assert_eq!(
        test.to_dense(Some(123)).unwrap(),
        padded.to_dense(None).unwrap()
    );
    // labels -1/+1 map to classes 0/1: 760 of -1, 240 of +1
    let counts = padded.to_dense(None).unwrap().class_counts().unwrap();
    assert_eq!(counts, vec![760, 240]);
}

#[test]
fn tiny_shakespeare_has_65_chars_and_round_trips() {
    let text = read_text(repo_data("tinyshakespeare/input.txt")).unwrap();
    assert_eq!(text.chars().count(), 1_115_394);
    let vocab = CharVocab::from_text(&text);
    assert_eq!(vocab.len(), 65);
    let ids = vocab.encode(&text).unwrap();
    assert_eq!(vocab.decode(&ids[..1000]).unwrap(), text[..1000]);
    let ds = TextDataset::new(ids, 256).unwrap();
    assert_eq!(ds.len(), (1_115_394 - 257) / 256 + 1);
    let (x, y) = ds.window(ds.len() - 1);
    assert_eq!(x[1..], y[..255]);
}
