//! The NumPy `.npy` loader on files written by NumPy (fixtures) and by a
//! test writer that reproduces NumPy's bytes: every supported dtype reads,
//! unsupported ones, corrupt files and malformed headers are an `Error::Data`
//! naming the file, and `load_npy_dataset` turns labels into targets.

use ndarray::{ArrayD, IxDyn};
use tempfile::TempDir;

use crate::data_support::{assert_data_error, fixture, idx_bytes, write};
use triceratops::data::{load_npy_dataset, npy, read_npy};
use triceratops::Error;

// ------------------------------------------------------------------- NPY

/// A version-1.0 `.npy` file, padded exactly as NumPy pads it (preamble,
/// header and newline a multiple of 64 bytes).
fn npy_bytes(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let fortran = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    npy_raw(1, header.as_bytes(), data)
}

/// A `.npy` file with any header text, for malformed headers.
fn npy_raw(major: u8, header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([major, 0]);
    if major == 1 {
        out.extend((header.len() as u16).to_le_bytes());
    } else {
        out.extend((header.len() as u32).to_le_bytes());
    }
    out.extend(header);
    out.extend(data);
    out
}

fn le<T: Copy, const N: usize>(values: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| f(v)).collect()
}

#[test]
fn npy_writer_matches_numpy() {
    // The test writer reproduces NumPy's bytes, so the files it corrupts
    // below are faithful to what NumPy writes.
    let f4: Vec<f32> = (0..24).map(|i| i as f32 / 4.0).collect();
    assert_eq!(
        npy_bytes("<f4", false, &[2, 3, 4], &le(&f4, f32::to_le_bytes)),
        std::fs::read(fixture("f4_3d.npy")).unwrap()
    );
    assert_eq!(
        npy_bytes(
            "<i8",
            false,
            &[5],
            &le(&[3i64, 0, 9, 1, 2], i64::to_le_bytes)
        ),
        std::fs::read(fixture("i8_1d.npy")).unwrap()
    );
}

#[test]
fn npy_reads_numpy_fixtures() {
    let a = read_npy(&fixture("f4_3d.npy")).unwrap();
    assert_eq!(a.shape(), &[2, 3, 4]);
    assert_eq!(a[[1, 2, 3]], 23.0 / 4.0);
    assert_eq!(a[[0, 1, 2]], 6.0 / 4.0);

    let a = read_npy(&fixture("f8_1d.npy")).unwrap();
    assert_eq!(a.shape(), &[5]);
    assert_eq!(a.as_slice().unwrap(), &[0.5, -1.25, 3.0, 1e10, -0.0]);
    assert!(a[[4]].is_sign_negative());

    let (dtype, a) = npy::read_npy_typed(&fixture("u1_3d.npy")).unwrap();
    assert_eq!(dtype, npy::NpyDtype::U1);
    assert_eq!(a.shape(), &[2, 2, 3]);
    assert_eq!(a[[1, 1, 2]], 220.0, "u8 is converted, not rescaled");
    assert_eq!(a[[0, 1, 0]], 60.0);

    let (dtype, a) = npy::read_npy_typed(&fixture("i8_1d.npy")).unwrap();
    assert_eq!(dtype, npy::NpyDtype::I8);
    assert_eq!(a.as_slice().unwrap(), &[3.0, 0.0, 9.0, 1.0, 2.0]);

    let a = read_npy(&fixture("i4_2d.npy")).unwrap();
    assert_eq!(a.shape(), &[2, 3]);
    assert_eq!(a[[0, 0]], -1.0);
    assert_eq!(a[[1, 1]], -5.0);
    assert_eq!(a[[1, 2]], 2_147_483_647f32);

    let a = read_npy(&fixture("f4_v2.npy")).unwrap();
    assert_eq!(
        a,
        ArrayD::from_shape_vec(IxDyn(&[2, 2]), vec![1.5, 2.5, 3.5, 4.5]).unwrap()
    );

    let a = read_npy(&fixture("f8_scalar.npy")).unwrap();
    assert_eq!(a.shape(), &[] as &[usize]);
    assert_eq!(a[IxDyn(&[])], 2.75);

    let a = read_npy(&fixture("f4_empty.npy")).unwrap();
    assert_eq!(a.shape(), &[0, 3]);
}

#[test]
fn npy_rejects_unsupported_numpy_fixtures() {
    let p = fixture("fortran_f4.npy");
    assert_data_error(
        read_npy(&p),
        &p,
        "Fortran-order (column-major) arrays are not supported",
    );
    let p = fixture("c8_1d.npy");
    assert_data_error(read_npy(&p), &p, "unsupported dtype '<c8'");
    let p = fixture("be_f4.npy");
    assert_data_error(read_npy(&p), &p, "unsupported dtype '>f4': big-endian");
    let p = fixture("structured.npy");
    assert_data_error(read_npy(&p), &p, "unsupported dtype: structured");
}

#[test]
fn npy_corruptions() {
    let tmp = TempDir::new().unwrap();
    let good = std::fs::read(fixture("f4_3d.npy")).unwrap();
    let check = |name: &str, bytes: &[u8], fragment: &str| {
        let p = write(&tmp, name, bytes);
        assert_data_error(read_npy(&p), &p, fragment);
    };

    let mut bad = good.clone();
    bad[1] = b'X';
    check("magic.npy", &bad, "not an NPY file: bad magic");
    check("idx.npy", &idx_bytes(&[2], &[1, 2]), "bad magic");
    check(
        "empty.npy",
        &[],
        "truncated header: the file ends after 0 bytes",
    );
    check(
        "cut3.npy",
        &good[..3],
        "truncated header: the file ends after 3 bytes",
    );
    check("cut9.npy", &good[..9], "inside the header length");
    check(
        "cut50.npy",
        &good[..50],
        "truncated header: the header claims 118 bytes",
    );
    check(
        "cut-data.npy",
        &good[..good.len() - 4],
        "truncated data: shape [2, 3, 4] of <f4 needs 96 bytes of data, found 92",
    );
    check(
        "no-data.npy",
        &good[..128],
        "needs 96 bytes of data, found 0",
    );
    let mut bad = good.clone();
    bad.extend([0; 4]);
    check(
        "trailing.npy",
        &bad,
        "trailing bytes: shape [2, 3, 4] of <f4 needs 96 bytes of data, found 100",
    );

    // Header longer than the file.
    let mut bad = good.clone();
    bad[8..10].copy_from_slice(&1000u16.to_le_bytes());
    check(
        "long-header.npy",
        &bad,
        "the header claims 1000 bytes but the file has only 214",
    );
    let bad = npy_raw(2, &[b' '; 0], &[]);
    let mut bad2 = bad.clone();
    bad2[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    check(
        "huge-header.npy",
        &bad2,
        "the header claims 4294967295 bytes",
    );

    let mut bad = good.clone();
    bad[6] = 4;
    check("version.npy", &bad, "unsupported NPY format version 4.0");

    // A shape that lies: 2^40 elements, 8 bytes of data, refused before any
    // allocation; one that overflows.
    check(
        "liar.npy",
        &npy_bytes("<f8", false, &[1 << 40], &[0; 8]),
        "truncated data: shape [1099511627776] of <f8 needs 8796093022208 bytes of data, found 8",
    );
    check(
        "overflow.npy",
        &npy_bytes("<f8", false, &[1 << 62, 1 << 62], &[]),
        "overflows",
    );

    // Malformed headers.
    let header_cases: [(&str, &str); 9] = [
        ("{'descr': '<f4', 'shape': (1,), }\n", "no 'fortran_order'"),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}\n",
            "unexpected key 'x'",
        ),
        (
            "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\n",
            "appears twice",
        ),
        (
            "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}\n",
            "'fortran_order' is not True or False",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}\n",
            "'shape' is not a tuple",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) \n",
            "ends early",
        ),
        (
            "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}\n",
            "malformed header",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}\n",
            "too large",
        ),
        (
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk\n",
            "text after the dict",
        ),
    ];
    for (i, (header, fragment)) in header_cases.iter().enumerate() {
        check(
            &format!("header-{i}.npy"),
            &npy_raw(1, header.as_bytes(), &[0; 4]),
            fragment,
        );
    }
    // Deep nesting must not overflow the stack.
    let deep = format!(
        "{{'descr': {}{}, }}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    check(
        "deep.npy",
        &npy_raw(2, deep.as_bytes(), &[]),
        "nested too deeply",
    );
    // Python 2 long integers in the shape are accepted.
    let p = write(
        &tmp,
        "py2.npy",
        &npy_raw(
            1,
            b"{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 1L), }\n",
            &[4, 5],
        ),
    );
    assert_eq!(read_npy(&p).unwrap().shape(), &[2, 1]);
    let p = tmp.path().join("missing.npy");
    assert_data_error(read_npy(&p), &p, "cannot read");
}

#[test]
fn npy_dataset() {
    let tmp = TempDir::new().unwrap();
    let x = fixture("f4_3d.npy"); // 2 samples of [3, 4]
    let y = write(
        &tmp,
        "y.npy",
        &npy_bytes("<i8", false, &[2], &le(&[2i64, 0], i64::to_le_bytes)),
    );

    let d = load_npy_dataset(&x, &y, Some(3)).unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d.x.shape(), &[2, 3, 4]);
    assert_eq!(
        d.y,
        ArrayD::from_shape_vec(IxDyn(&[2, 3]), vec![0., 0., 1., 1., 0., 0.]).unwrap()
    );

    let d = load_npy_dataset(&x, &y, None).unwrap();
    assert_eq!(d.y.as_slice().unwrap(), &[2.0, 0.0]);

    // Float labels that are whole numbers are labels too.
    let yf = write(
        &tmp,
        "yf.npy",
        &npy_bytes("<f4", false, &[2], &le(&[1f32, 0.0], f32::to_le_bytes)),
    );
    assert_eq!(load_npy_dataset(&x, &yf, Some(2)).unwrap().y[[0, 1]], 1.0);
    // Already one-hot [n, c] targets pass through when c matches.
    let y2 = write(
        &tmp,
        "y2.npy",
        &npy_bytes(
            "<f4",
            false,
            &[2, 3],
            &le(&[0f32, 1., 0., 1., 0., 0.], f32::to_le_bytes),
        ),
    );
    assert_eq!(
        load_npy_dataset(&x, &y2, Some(3)).unwrap().y.shape(),
        &[2, 3]
    );
    assert_data_error(
        load_npy_dataset(&x, &y2, Some(4)),
        &y2,
        "y has shape [2, 3] but 4 classes",
    );

    assert_data_error(
        load_npy_dataset(&x, &y, Some(2)),
        &y,
        "label 2 at index 0 is outside 0..2",
    );
    let yh = write(
        &tmp,
        "yh.npy",
        &npy_bytes("<f4", false, &[2], &le(&[0.5f32, 1.0], f32::to_le_bytes)),
    );
    assert_data_error(
        load_npy_dataset(&x, &yh, Some(2)),
        &yh,
        "label 0.5 at index 0 is not a whole number",
    );
    let yneg = write(
        &tmp,
        "yneg.npy",
        &npy_bytes("<i4", false, &[2], &le(&[1i32, -1], i32::to_le_bytes)),
    );
    assert_data_error(
        load_npy_dataset(&x, &yneg, Some(2)),
        &yneg,
        "label -1 at index 1 is outside 0..2",
    );

    let y5 = fixture("i8_1d.npy"); // 5 samples
    assert_data_error(
        load_npy_dataset(&x, &y5, Some(10)),
        &y5,
        "sample count mismatch: y has shape [5] but x",
    );
    let scalar = fixture("f8_scalar.npy");
    assert_data_error(
        load_npy_dataset(&scalar, &y, None),
        &scalar,
        "0-dimensional",
    );
    // Errors in either file name that file.
    let bad = fixture("c8_1d.npy");
    assert_data_error(load_npy_dataset(&bad, &y, None), &bad, "unsupported dtype");
    assert_data_error(load_npy_dataset(&x, &bad, None), &bad, "unsupported dtype");
    assert!(matches!(
        load_npy_dataset(&x, &y, Some(0)),
        Err(Error::Config(_))
    ));
}
