//! MNIST and Fashion-MNIST: a folder of four IDX files.
//!
//! Both use the same file names (`train-images-idx3-ubyte`,
//! `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
//! `t10k-labels-idx1-ubyte`), each with or without `.gz`, so [`load`] reads
//! either. Pixels become `f32` in `[0, 1]` (byte / 255), one sample has shape
//! `[1, rows, cols]` (`[1, 28, 28]`), and labels are the 10 classes.

use std::path::{Path, PathBuf};

use crate::idx::read_idx;
use crate::{DataError, Dataset, Targets};

/// Number of classes in MNIST and Fashion-MNIST.
pub const NUM_CLASSES: usize = 10;

/// Which half of the dataset to load.
///
/// ```
/// use gradus_data::mnist::Split;
/// assert_eq!(Split::Test.prefix(), "t10k");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The 60000 training images.
    Train,
    /// The 10000 test images.
    Test,
}

impl Split {
    /// The file-name prefix: `"train"` or `"t10k"`.
    ///
    /// ```
    /// use gradus_data::mnist::Split;
    /// assert_eq!(Split::Train.prefix(), "train");
    /// ```
    pub fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// Loads one split of MNIST or Fashion-MNIST from `dir`.
///
/// ```
/// use gradus_data::mnist::{load, Split};
/// let test = load("../../data/mnist", Split::Test)?;
/// assert_eq!((test.len(), test.feature_shape()), (10000, &[1, 28, 28][..]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn load(dir: impl AsRef<Path>, split: Split) -> Result<Dataset, DataError> {
    let dir = dir.as_ref();
    let images = find_file(dir, &format!("{}-images-idx3-ubyte", split.prefix()))?;
    let labels = find_file(dir, &format!("{}-labels-idx1-ubyte", split.prefix()))?;
    load_files(&images, &labels, NUM_CLASSES)
}

/// Finds `dir/name` or `dir/name.gz` (the plain file wins if both exist).
///
/// ```
/// use gradus_data::mnist::find_file;
/// let p = find_file("../../data/mnist", "t10k-labels-idx1-ubyte")?;
/// assert!(p.ends_with("t10k-labels-idx1-ubyte.gz"));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn find_file(dir: impl AsRef<Path>, name: &str) -> Result<PathBuf, DataError> {
    let dir = dir.as_ref();
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    [plain, gz]
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::NotFound {
            dir: dir.to_path_buf(),
            name: name.to_string(),
        })
}

/// Loads an IDX image file (`n x rows x cols` bytes) and an IDX label file
/// (`n` bytes, each `< num_classes`) into a dataset of shape `[1, rows, cols]`.
///
/// ```
/// use gradus_data::mnist::load_files;
/// let ds = load_files("../../data/fashion-mnist/t10k-images-idx3-ubyte.gz".as_ref(),
///                     "../../data/fashion-mnist/t10k-labels-idx1-ubyte.gz".as_ref(), 10)?;
/// assert_eq!(ds.class_counts(), Some(vec![1000; 10]));
/// # Ok::<(), gradus_data::DataError>(())
/// ```
pub fn load_files(images: &Path, labels: &Path, num_classes: usize) -> Result<Dataset, DataError> {
    let img = read_idx(images)?;
    let lab = read_idx(labels)?;
    let [n, rows, cols] = img.dims[..] else {
        return Err(shape_error(
            images,
            "3 dimensions (count, rows, cols)",
            &img.dims,
        ));
    };
    if rows == 0 || cols == 0 {
        return Err(shape_error(images, "images of at least 1x1", &img.dims));
    }
    let [n_labels] = lab.dims[..] else {
        return Err(shape_error(labels, "1 dimension (count)", &lab.dims));
    };
    if n != n_labels {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            labels: labels.to_path_buf(),
            n_images: n,
            n_labels,
        });
    }
    if let Some(i) = lab.data.iter().position(|&l| l as usize >= num_classes) {
        return Err(DataError::Idx {
            path: labels.to_path_buf(),
            message: format!(
                "label {} of sample {i} is not below {num_classes}",
                lab.data[i]
            ),
        });
    }
    let pixels = img.data.iter().map(|&b| f32::from(b) / 255.0).collect();
    let targets = Targets::Classes {
        labels: lab.data.iter().map(|&l| u32::from(l)).collect(),
        num_classes,
    };
    Dataset::new(pixels, vec![1, rows, cols], targets)
}

fn shape_error(path: &Path, expected: &str, dims: &[usize]) -> DataError {
    DataError::Idx {
        path: path.to_path_buf(),
        message: format!("expected {expected}, found dimensions {dims:?}"),
    }
}
