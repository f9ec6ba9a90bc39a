//! Devices and host transfers: constructors on a device, `to_device`, and the explicit transfers
//! (`to_vec`, `with_data`, `update_data`, `copy_from`, `from_vec`), including views that share one
//! storage (which an op must lock once, not twice).

use gradus_tensor::{DType, Device, Tensor};

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn constructors_on_a_device_and_like_constructors_keep_it() {
    let dev = Device::Cpu;
    let z = Tensor::zeros_on(&[2, 3], DType::F32, dev);
    let o = Tensor::ones_on(&[2], DType::F64, dev);
    let f = Tensor::full_on(&[3], 2.5, DType::F64, dev);
    let v = Tensor::from_vec_on(vec![1.0f32, 2.0], &[2], dev).unwrap();
    for x in [&z, &o, &f, &v, &z.zeros_like(), &o.ones_like()] {
        assert_eq!(x.device(), dev);
    }
    assert_eq!(z.to_vec::<f32>().unwrap(), vec![0.0; 6]);
    assert_eq!(o.to_vec::<f64>().unwrap(), vec![1.0; 2]);
    assert_eq!(f.to_vec::<f64>().unwrap(), vec![2.5; 3]);
    assert_eq!(v.to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    let err = Tensor::from_vec_on(vec![1.0f32], &[2], dev).unwrap_err();
    assert!(err.to_string().contains("needs 2 elements, got 1"), "{err}");
}

#[test]
fn to_device_where_the_tensor_lives_is_the_tensor_and_gradients_flow() {
    let x = t(&[1.0, 2.0, 3.0], &[3]).requires_grad_(true);
    let y = x.to_device(Device::Cpu).unwrap();
    assert_eq!(y.id(), x.id());
    y.mul(&y).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![2.0, 4.0, 6.0]
    );
}

#[test]
fn host_transfers_read_views_row_major_and_check_the_dtype() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let xt = x.t().unwrap();
    assert_eq!(
        xt.to_vec::<f64>().unwrap(),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    assert_eq!(xt.to_vec_f64(), xt.to_vec::<f64>().unwrap());
    let first = xt.with_data(|v: &[f64]| v[..2].to_vec()).unwrap();
    assert_eq!(first, vec![1.0, 4.0]);
    assert_eq!(
        x.narrow(1, 2, 1)
            .unwrap()
            .narrow(0, 1, 1)
            .unwrap()
            .item()
            .unwrap(),
        6.0
    );
    assert!(x.to_vec::<f32>().is_err());
    assert!(x.with_data(|v: &[f32]| v.len()).is_err());
    assert!(x.item().is_err());
}

#[test]
fn update_data_writes_a_contiguous_view_in_place_and_refuses_a_strided_one() {
    let x = t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    let row = x.narrow(0, 1, 1).unwrap();
    row.update_data(|v: &mut [f64]| v.iter_mut().for_each(|a| *a *= 10.0))
        .unwrap();
    assert_eq!(x.to_vec::<f64>().unwrap(), vec![1.0, 2.0, 30.0, 40.0]);
    let err = x.t().unwrap().update_data(|_: &mut [f64]| ()).unwrap_err();
    assert!(err.to_string().contains("contiguous"), "{err}");
    assert!(x.update_data(|_: &mut [f32]| ()).is_err());
}

#[test]
fn copy_from_reads_views_and_its_own_storage() {
    let x = t(&[1.0, 2.0, 3.0, 4.0], &[4]);
    // source and destination are two halves of one storage
    let (low, high) = (x.narrow(0, 0, 2).unwrap(), x.narrow(0, 2, 2).unwrap());
    low.copy_from(&high).unwrap();
    assert_eq!(x.to_vec::<f64>().unwrap(), vec![3.0, 4.0, 3.0, 4.0]);
    // a strided source from another storage
    let m = Tensor::zeros(&[2, 2], DType::F64);
    m.copy_from(&t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]).t().unwrap())
        .unwrap();
    assert_eq!(m.to_vec::<f64>().unwrap(), vec![1.0, 3.0, 2.0, 4.0]);
    // a strided destination, another shape, another dtype
    assert!(m.t().unwrap().copy_from(&m).is_err());
    assert!(m.copy_from(&Tensor::zeros(&[4], DType::F64)).is_err());
    assert!(m.copy_from(&Tensor::zeros(&[2, 2], DType::F32)).is_err());
}

#[test]
fn ops_on_views_of_one_storage_read_it_once() {
    let x = t(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    // a product of a matrix with its own transpose
    let g = x.matmul(&x.t().unwrap()).unwrap();
    assert_eq!(g.to_vec::<f64>().unwrap(), vec![14.0, 32.0, 32.0, 77.0]);
    // joining two views of one buffer
    let (a, b) = (x.narrow(1, 0, 1).unwrap(), x.narrow(1, 2, 1).unwrap());
    let j = Tensor::concat(&[&a, &b, &a], 1).unwrap();
    assert_eq!(
        j.to_vec::<f64>().unwrap(),
        vec![1.0, 3.0, 1.0, 4.0, 6.0, 4.0]
    );
    // adding a buffer's own slices into it
    let y = x
        .index_add(1, &t(&[2.0, 0.0], &[2]), &x.narrow(1, 0, 2).unwrap())
        .unwrap();
    assert_eq!(
        y.to_vec::<f64>().unwrap(),
        vec![3.0, 2.0, 4.0, 9.0, 5.0, 10.0]
    );
    let s = x
        .scatter_add(1, &t(&[0.0, 0.0], &[2, 1]), &x.narrow(1, 1, 1).unwrap())
        .unwrap();
    assert_eq!(
        s.to_vec::<f64>().unwrap(),
        vec![3.0, 2.0, 3.0, 9.0, 5.0, 6.0]
    );
    // indices read from the buffer they index: column 0 of [[0, 1, 2], [2, 0, 1]] picks
    // element 0 of row 0 and element 2 of row 1
    let y = t(&[0.0, 1.0, 2.0, 2.0, 0.0, 1.0], &[2, 3]);
    let own = y.gather(1, &y.narrow(1, 0, 1).unwrap()).unwrap();
    assert_eq!(own.to_vec::<f64>().unwrap(), vec![0.0, 1.0]);
    let both = y
        .scatter_add(1, &y.narrow(1, 0, 1).unwrap(), &y.narrow(1, 2, 1).unwrap())
        .unwrap();
    assert_eq!(
        both.to_vec::<f64>().unwrap(),
        vec![2.0, 1.0, 2.0, 2.0, 0.0, 2.0]
    );
}
