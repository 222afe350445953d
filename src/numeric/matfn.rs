//! f64 values of the matrix functions `expm`, `logm` and `sqrtm`.
//!
//! - `expm`: scaling and squaring with a Padé approximant of degree 3, 5,
//!   7, 9 or 13, chosen by the 1-norm (Higham, "The scaling and squaring
//!   method for the matrix exponential revisited", SIAM J. Matrix Anal.
//!   Appl. 26(4), 2005, Algorithm 2.3).
//! - `sqrtm`: the Denman–Beavers iteration with determinant scaling
//!   (Higham, *Functions of Matrices*, 2008, §6.3), at most
//!   [`MAX_ITERATIONS`] steps, and refused when the square of the result
//!   is not the matrix (a matrix with a negative real eigenvalue has no
//!   real principal root, and the real iteration wanders).
//! - `logm`: inverse scaling and squaring: square roots until the matrix
//!   is within 1/4 of I, then `log A = 2 atanh((A - I)(A + I)^-1)` as its
//!   odd series, times 2^k.
//!
//! Each works on a square [`Matrix`] and reports a failure as
//! [`Fault::Undefined`], so a check moves on to another point.

use crate::numeric::eval::Fault;
use crate::numeric::float::Matrix;

/// Most Denman–Beavers steps before `sqrtm` gives up.
pub const MAX_ITERATIONS: usize = 100;

/// Most square roots `logm` takes before giving up.
const MAX_ROOTS: usize = 64;

fn undefined(what: &str) -> Fault {
    Fault::Undefined(what.to_string())
}

fn norm1(m: &Matrix) -> f64 {
    (0..m.cols)
        .map(|j| (0..m.rows).map(|i| m.get(i, j).abs()).sum::<f64>())
        .fold(0.0, f64::max)
}

fn mul(a: &Matrix, b: &Matrix) -> Result<Matrix, Fault> {
    a.times(b, &mut ())
}

fn inv(a: &Matrix) -> Result<Matrix, Fault> {
    a.inverted(&mut ())
}

/// `Σ c_k M_k` over matrices of one shape.
fn combine(terms: &[(f64, &Matrix)]) -> Matrix {
    let mut out = Matrix::zeros(terms[0].1.rows, terms[0].1.cols);
    for (c, m) in terms {
        for (o, x) in out.data.iter_mut().zip(&m.data) {
            *o += c * x;
        }
    }
    out
}

fn finite(m: Matrix, what: &str) -> Result<Matrix, Fault> {
    if m.data.iter().all(|x| x.is_finite()) {
        Ok(m)
    } else {
        Err(undefined(what))
    }
}

fn square(m: &Matrix, name: &str) -> Result<(), Fault> {
    if m.rows == m.cols {
        Ok(())
    } else {
        Err(Fault::Invalid(format!("{name} needs a square matrix")))
    }
}

/// The matrix exponential.
pub fn expm(a: &Matrix) -> Result<Matrix, Fault> {
    square(a, "expm")?;
    let n = a.rows;
    let id = Matrix::identity(n);
    let norm = norm1(a);
    if !norm.is_finite() {
        return Err(undefined("expm of a matrix with an infinite entry"));
    }
    // Padé coefficients b_0..b_m for m = 3, 5, 7, 9 with their θ_m.
    const LOW: [(f64, &[f64]); 4] = [
        (1.495585217958292e-2, &[120.0, 60.0, 12.0, 1.0]),
        (
            2.53939833006323e-1,
            &[30240.0, 15120.0, 3360.0, 420.0, 30.0, 1.0],
        ),
        (
            9.504178996162932e-1,
            &[
                17297280.0, 8648640.0, 1995840.0, 277200.0, 25200.0, 1512.0, 56.0, 1.0,
            ],
        ),
        (
            2.097847961257068,
            &[
                17643225600.0,
                8821612800.0,
                2075673600.0,
                302702400.0,
                30270240.0,
                2162160.0,
                110880.0,
                3960.0,
                90.0,
                1.0,
            ],
        ),
    ];
    let a2 = mul(a, a)?;
    for (theta, b) in LOW {
        if norm <= theta {
            // U = A Σ b_{2j+1} A^{2j}, V = Σ b_{2j} A^{2j}
            let mut power = id.clone();
            let (mut u, mut v) = (Matrix::zeros(n, n), Matrix::zeros(n, n));
            for j in 0..b.len() / 2 {
                v = combine(&[(1.0, &v), (b[2 * j], &power)]);
                u = combine(&[(1.0, &u), (b[2 * j + 1], &power)]);
                power = mul(&power, &a2)?;
            }
            let u = mul(a, &u)?;
            return pade_solve(&u, &v);
        }
    }
    const B: [f64; 14] = [
        64764752532480000.0,
        32382376266240000.0,
        7771770303897600.0,
        1187353796428800.0,
        129060195264000.0,
        10559470521600.0,
        670442572800.0,
        33522128640.0,
        1323241920.0,
        40840800.0,
        960960.0,
        16380.0,
        182.0,
        1.0,
    ];
    const THETA13: f64 = 5.371920351148152;
    let s = (norm / THETA13).log2().ceil().max(0.0);
    if s > 1100.0 {
        return Err(undefined("expm overflows"));
    }
    let s = s as i32;
    let scale = 2f64.powi(-s);
    let a = a.map(|x| x * scale);
    let a2 = mul(&a, &a)?;
    let a4 = mul(&a2, &a2)?;
    let a6 = mul(&a4, &a2)?;
    let inner_u = combine(&[(B[13], &a6), (B[11], &a4), (B[9], &a2)]);
    let u = combine(&[
        (1.0, &mul(&a6, &inner_u)?),
        (B[7], &a6),
        (B[5], &a4),
        (B[3], &a2),
        (B[1], &id),
    ]);
    let u = mul(&a, &u)?;
    let inner_v = combine(&[(B[12], &a6), (B[10], &a4), (B[8], &a2)]);
    let v = combine(&[
        (1.0, &mul(&a6, &inner_v)?),
        (B[6], &a6),
        (B[4], &a4),
        (B[2], &a2),
        (B[0], &id),
    ]);
    let mut r = pade_solve(&u, &v)?;
    for _ in 0..s {
        r = finite(mul(&r, &r)?, "expm overflows")?;
    }
    Ok(r)
}

/// `(V - U)^-1 (V + U)`, the Padé approximant.
fn pade_solve(u: &Matrix, v: &Matrix) -> Result<Matrix, Fault> {
    let den = combine(&[(1.0, v), (-1.0, u)]);
    let num = combine(&[(1.0, v), (1.0, u)]);
    finite(mul(&inv(&den)?, &num)?, "expm overflows")
}

/// The principal square root.
pub fn sqrtm(a: &Matrix) -> Result<Matrix, Fault> {
    square(a, "sqrtm")?;
    let n = a.rows;
    let no_root =
        || undefined("sqrtm: no real principal square root (a negative real or zero eigenvalue?)");
    let mut y = a.clone();
    let mut z = Matrix::identity(n);
    for _ in 0..MAX_ITERATIONS {
        let yi = inv(&y).map_err(|_| no_root())?;
        let zi = inv(&z).map_err(|_| no_root())?;
        // determinant scaling, while far from converged
        let dy = y.determinant(&mut ())?;
        let dz = z.determinant(&mut ())?;
        let mu = (dy * dz).abs().powf(-1.0 / (2.0 * n as f64));
        let mu = if mu.is_finite() && mu > 0.0 { mu } else { 1.0 };
        let (mu, scaled) = if (mu - 1.0).abs() > 1e-3 {
            (mu, true)
        } else {
            (1.0, false)
        };
        let next_y = combine(&[(mu / 2.0, &y), (0.5 / mu, &zi)]);
        let next_z = combine(&[(mu / 2.0, &z), (0.5 / mu, &yi)]);
        let change = norm1(&combine(&[(1.0, &next_y), (-1.0, &y)]));
        y = finite(next_y, "sqrtm diverges").map_err(|_| no_root())?;
        z = finite(next_z, "sqrtm diverges").map_err(|_| no_root())?;
        if !scaled && change <= 1e-14 * norm1(&y) {
            let residual = norm1(&combine(&[(1.0, &mul(&y, &y)?), (-1.0, a)]));
            if residual <= 1e-9 * norm1(a).max(f64::MIN_POSITIVE) {
                return Ok(y);
            }
            return Err(no_root());
        }
    }
    Err(no_root())
}

/// The principal logarithm.
pub fn logm(a: &Matrix) -> Result<Matrix, Fault> {
    square(a, "logm")?;
    let n = a.rows;
    let id = Matrix::identity(n);
    let mut m = a.clone();
    let mut k = 0;
    while norm1(&combine(&[(1.0, &m), (-1.0, &id)])) > 0.25 {
        if k == MAX_ROOTS {
            return Err(undefined("logm: the square roots do not approach I"));
        }
        m = sqrtm(&m).map_err(|_| {
            undefined("logm: no real principal logarithm (a negative real or zero eigenvalue?)")
        })?;
        k += 1;
    }
    // log M = 2 Σ_{j odd} Z^j / j with Z = (M - I)(M + I)^-1, ‖Z‖ < 1/7
    let z = mul(
        &combine(&[(1.0, &m), (-1.0, &id)]),
        &inv(&combine(&[(1.0, &m), (1.0, &id)]))?,
    )?;
    let z2 = mul(&z, &z)?;
    let mut power = z.clone();
    let mut sum = Matrix::zeros(n, n);
    for j in (1..200).step_by(2) {
        sum = combine(&[(1.0, &sum), (1.0 / j as f64, &power)]);
        if norm1(&power) / (j as f64) <= 1e-18 * norm1(&sum).max(f64::MIN_POSITIVE) {
            break;
        }
        power = mul(&power, &z2)?;
    }
    Ok(sum.map(|x| x * 2.0 * 2f64.powi(k as i32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mat(n: usize, data: &[f64]) -> Matrix {
        Matrix {
            rows: n,
            cols: n,
            data: data.to_vec(),
        }
    }

    fn close(a: &Matrix, b: &Matrix, tol: f64) {
        let d = combine(&[(1.0, a), (-1.0, b)]);
        assert!(norm1(&d) <= tol * norm1(b).max(1.0), "{a}\nvs\n{b}");
    }

    #[test]
    fn expm_of_a_rotation_generator_and_a_nilpotent() {
        // expm([[0, -t], [t, 0]]) is the rotation by t (t = 3: scaled)
        for t in [0.01, 0.2, 0.9, 2.0, 3.0, 40.0] {
            let r = expm(&mat(2, &[0.0, -t, t, 0.0])).unwrap();
            close(&r, &mat(2, &[t.cos(), -t.sin(), t.sin(), t.cos()]), 1e-13);
        }
        // expm([[1, 1], [0, 1]]) = e [[1, 1], [0, 1]]
        let e = std::f64::consts::E;
        close(
            &expm(&mat(2, &[1.0, 1.0, 0.0, 1.0])).unwrap(),
            &mat(2, &[e, e, 0.0, e]),
            1e-14,
        );
    }

    #[test]
    fn sqrtm_and_logm_invert_squares_and_expm() {
        let a = mat(3, &[4.0, 1.0, 0.5, 0.2, 3.0, 0.7, 0.1, 0.3, 5.0]);
        let r = sqrtm(&a).unwrap();
        close(&mul(&r, &r).unwrap(), &a, 1e-13);
        close(&expm(&logm(&a).unwrap()).unwrap(), &a, 1e-12);
        let b = mat(2, &[0.3, -1.2, 0.8, 0.1]);
        close(&logm(&expm(&b).unwrap()).unwrap(), &b, 1e-12);
    }

    #[test]
    fn negative_eigenvalues_are_refused() {
        let a = mat(2, &[-1.0, 0.0, 0.0, 2.0]);
        assert!(sqrtm(&a).is_err());
        assert!(logm(&a).is_err());
        assert!(sqrtm(&mat(2, &[0.0, 0.0, 0.0, 0.0])).is_err());
    }
}
