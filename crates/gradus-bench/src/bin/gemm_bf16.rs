//! The bf16 GEMM (`gradus_tensor::gemm_bf16`, AVX512_BF16 where the CPU has it) against gradus's
//! f32 GEMM (`gemm_f32`) at MLP and GPT shapes `m x k x n`, the two alternated round by round in
//! one process so both see the same load. Prints one line per shape and kernel, with GFLOP/s and
//! the f32 / bf16 time ratio (> 1: bf16 faster), and the same for each AVX-512 path of the bf16
//! GEMM this CPU runs (`gemm_bf16_<path>_<shape>`; `Bf16Path::best` picks one of them), and
//! `Tensor::matmul` on two BF16 tensors (`matmul_bf16_tensor_<shape>`: what a user of bf16
//! tensors calls, bf16 output, the operands widened exactly to f32 for the f32 GEMM).
//! `bench/gemm_bf16_torch.py` puts PyTorch's bf16 `torch.matmul` beside it.

use gradus_bench::report;
use gradus_tensor::gemm_bf16::{gemm_bf16, gemm_bf16_with, Bf16Path};
use gradus_tensor::{gemm_f32, precision::convert::f32_to_bf16_bits, DType, Tensor};
use std::time::Instant;

const SHAPES: &[(usize, usize, usize)] = &[
    (128, 784, 512),
    (128, 512, 256),
    (2048, 128, 384),
    (2048, 128, 512),
    (2048, 512, 128),
    (512, 512, 512),
    (1024, 1024, 1024),
];

fn seconds(f: &mut dyn FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    gradus_bench::configure_allocator();
    let threads = gradus_bench::threads();
    let path = format!("{:?}", Bf16Path::best());
    let paths: Vec<Bf16Path> = Bf16Path::all_available()
        .into_iter()
        .filter(|&p| p != Bf16Path::Portable)
        .collect();
    for &(m, k, n) in SHAPES {
        let a = Tensor::randn(&[m, k], DType::F32, 1)
            .to_vec::<f32>()
            .unwrap();
        let b = Tensor::randn(&[k, n], DType::F32, 2)
            .to_vec::<f32>()
            .unwrap();
        let (ha, hb): (Vec<u16>, Vec<u16>) = (
            a.iter().map(|&x| f32_to_bf16_bits(x)).collect(),
            b.iter().map(|&x| f32_to_bf16_bits(x)).collect(),
        );
        let (ta, tb) = (
            Tensor::from_vec(a.clone(), &[m, k])
                .unwrap()
                .to_dtype(DType::BF16)
                .unwrap(),
            Tensor::from_vec(b.clone(), &[k, n])
                .unwrap()
                .to_dtype(DType::BF16)
                .unwrap(),
        );
        let mut c = vec![0.0f32; m * n];
        let flop = 2.0 * (m * n * k) as f64;
        // rounds sized to about 0.2 s of f32 work each, alternated
        let reps = ((2e10 / flop) as usize).clamp(3, 200);
        let (mut t32, mut t16) = (Vec::new(), Vec::new());
        let mut per_path = vec![Vec::new(); paths.len()];
        let mut t_tensor = Vec::new();
        for round in 0..7 {
            let mut f32_run = || {
                for _ in 0..reps {
                    gemm_f32((m, n, k), &a, (k, 1), &b, (n, 1), &mut c);
                }
            };
            let s32 = seconds(&mut f32_run) / reps as f64;
            let mut bf16_run = || {
                for _ in 0..reps {
                    gemm_bf16((m, n, k), &ha, (k, 1), &hb, (n, 1), &mut c);
                }
            };
            let s16 = seconds(&mut bf16_run) / reps as f64;
            if round > 0 {
                t32.push(s32);
                t16.push(s16);
            }
            let mut tensor_run = || {
                for _ in 0..reps {
                    std::hint::black_box(ta.matmul(&tb).unwrap());
                }
            };
            let st = seconds(&mut tensor_run) / reps as f64;
            if round > 0 {
                t_tensor.push(st);
            }
            for (&p, times) in paths.iter().zip(&mut per_path) {
                let mut run = || {
                    for _ in 0..reps {
                        gemm_bf16_with(p, (m, n, k), (&ha, (k, 1)), (&hb, (n, 1)), &mut c);
                    }
                };
                let s = seconds(&mut run) / reps as f64;
                if round > 0 {
                    times.push(s);
                }
            }
        }
        let (s32, s16) = (median(t32), median(t16));
        let shape = format!("{m}x{k}x{n}");
        let extra = |s: f64| serde_json::json!({"gflops": flop / s / 1e9, "threads": threads});
        report(&format!("gemm_f32_{shape}"), s32, extra(s32));
        let mut e = extra(s16);
        e["f32_over_bf16"] = serde_json::json!(s32 / s16);
        e["path"] = serde_json::json!(path);
        report(&format!("gemm_bf16_{shape}"), s16, e);
        let st = median(t_tensor);
        let mut e = extra(st);
        e["f32_over_bf16"] = serde_json::json!(s32 / st);
        report(&format!("matmul_bf16_tensor_{shape}"), st, e);
        for (&p, times) in paths.iter().zip(per_path) {
            let s = median(times);
            let mut e = extra(s);
            e["f32_over_bf16"] = serde_json::json!(s32 / s);
            report(&format!("gemm_bf16_{p:?}_{shape}"), s, e);
        }
    }
}
