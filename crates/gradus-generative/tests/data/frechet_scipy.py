"""Reference Fréchet distances for tests/frechet.rs, with the usual FID code path
(pytorch-fid's `calculate_frechet_distance`: scipy.linalg.sqrtm of the non-symmetric product).

    python frechet_scipy.py   # numpy, scipy; prints the constants pasted into tests/frechet.rs
"""
import numpy as np
from scipy import linalg


def frechet(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


b1 = np.array([[2.0, -1.0, 0.5], [0.3, 1.5, -0.2], [0.0, 0.4, 1.0]])
b2 = np.array([[1.0, 0.7, 0.0], [-0.6, 0.8, 0.3], [0.2, 0.1, 1.4]])
s1, s2 = b1 @ b1.T, b2 @ b2.T
mu1, mu2 = np.array([0.1, -0.2, 0.3]), np.array([0.5, 0.0, -0.4])
print("s1", s1.ravel().tolist())
print("s2", s2.ravel().tolist())
print(f"fd {float(frechet(mu1, s1, mu2, s2))!r}")
# a rank-deficient second covariance (one direction of zero variance)
s3 = np.diag([1.0, 2.0, 0.0])
print(f"fd singular {float(frechet(mu1, s1, mu2, s3))!r}")
