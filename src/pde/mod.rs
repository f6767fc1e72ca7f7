//! PDE residuals by collocation on functional TTs (MATH.md §8, "PDE residual").
//!
//! A [`Pde`] describes `sum_k (-a_k(x) d_k^2 u + b_k(x) d_k u) + kappa(x) u + N(u) = f(x)` on a box,
//! optionally with Dirichlet data `u = g` on the boundary. A [`ResidualProblem`] fixes the
//! collocation points and the feature map, and gives the residual rows
//! `R_i = (L v)(x^i) + N(v(x^i)) - f(x^i)` (interior) and `R_i = sqrt(w) (v(x^i) - g(x^i))`
//! (boundary rows with weight `w`), the loss `(1/2M) sum_i R_i^2`, and at an iterate the
//! linearization [`ResidualLinearization`]: the Jacobian of the rows in tangent coordinates,
//! `J_i = J^L_i + N'(v(x^i)) J^val_i` (the nonlinearity linearized), which implements
//! [`LinearizedModel`] so that every Gram solver applies: the Gram `J^T J / M` is the energy
//! natural gradient (Müller–Zeinhofer). The operator kernels are in
//! [`tensor_train::operator`] (two-state interfaces).
//!
//! `ResidualProblem` is an [`Objective`]: rows `R`, loss `||R||^2 / 2M`, derivative rows
//! `l' = R`, unit Gauss–Newton weights `l'' = 1`, Jacobian [`ResidualLinearization`]. The shared
//! optimizers ([`crate::optim::rgd`], [`crate::optim::ngd`], [`crate::optim::momentum`]) run on
//! it unchanged; [`solve`] is the driver (stopping rules, records) of the examples.
//!
//! Boundary rows are operator rows with no derivative term (`chi = 0`) and value coefficient
//! `sqrt(w)`: one kernel serves both. Alternatively [`boundary_vanishing`] features
//! (`(1 - t^2) P_j(t)`, orthonormalized) satisfy homogeneous conditions exactly and need no
//! boundary rows.

pub mod solve;

use crate::basis::{FeatureBasis, FeatureMap, FnFamily, Measure, Orthonormalized, OutsidePolicy};
use crate::error::{Error, Result};
use crate::optim::linearized::LinearizedModel;
use crate::optim::objective::{Objective, RowDerivatives};
use crate::optim::Prepared;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rand::Rng;
use std::ops::Range;
use std::sync::Arc;
use tensor_train::linalg::Par;
use tensor_train::operator::{
    derivative_values, modified_features, OperatorFeatures, OperatorLinearization,
};
use tensor_train::tangent::{SampleInterfaces, TangentSpace, TangentVector};
use tensor_train::TensorTrain;

/// A scalar field `x -> c(x)` on the domain (coefficients, right-hand sides, boundary data).
pub type Field = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;
/// A pointwise nonlinearity `u -> (N(u), N'(u))`.
pub type Nonlinearity = Arc<dyn Fn(f64) -> (f64, f64) + Send + Sync>;

/// A constant field.
pub fn constant(c: f64) -> Field {
    Arc::new(move |_| c)
}

/// The PDE `sum_k (-a_k d_k^2 u + b_k d_k u) + kappa u + N(u) = f` on a box (builder).
#[derive(Clone)]
pub struct Pde {
    domain: Vec<(f64, f64)>,
    a: Vec<Field>,
    b: Vec<Field>,
    kappa: Field,
    nonlinearity: Option<Nonlinearity>,
    rhs: Field,
    dirichlet: Option<(Field, f64)>,
}

impl std::fmt::Debug for Pde {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pde")
            .field("domain", &self.domain)
            .field("nonlinear", &self.nonlinearity.is_some())
            .field("dirichlet_weight", &self.dirichlet.as_ref().map(|d| d.1))
            .finish()
    }
}

impl Pde {
    /// `0 = 0` on the box `domain` (one `(lo, hi)` per variable, `lo < hi`); add terms with the
    /// other methods.
    pub fn new(domain: Vec<(f64, f64)>) -> Result<Self> {
        if domain.is_empty() {
            return Err(Error::param("pde domain", "needs at least one variable"));
        }
        for (k, &(lo, hi)) in domain.iter().enumerate() {
            if !(lo.is_finite() && hi.is_finite() && lo < hi) {
                return Err(Error::param(
                    "pde domain",
                    format!("variable {k}: interval ({lo}, {hi}) must be finite with lo < hi"),
                ));
            }
        }
        let d = domain.len();
        Ok(Pde {
            domain,
            a: vec![constant(0.0); d],
            b: vec![constant(0.0); d],
            kappa: constant(0.0),
            nonlinearity: None,
            rhs: constant(0.0),
            dirichlet: None,
        })
    }

    /// Number of variables.
    pub fn dim(&self) -> usize {
        self.domain.len()
    }

    /// The box.
    pub fn domain(&self) -> &[(f64, f64)] {
        &self.domain
    }

    fn check_var(&self, k: usize, what: &str) -> Result<()> {
        if k >= self.dim() {
            return Err(Error::param(
                what,
                format!("variable {k} of a {}-variable PDE", self.dim()),
            ));
        }
        Ok(())
    }

    /// Diffusion `-a(x) d_k^2 u` in variable `k`.
    pub fn diffusion(mut self, k: usize, a: Field) -> Result<Self> {
        self.check_var(k, "pde diffusion")?;
        self.a[k] = a;
        Ok(self)
    }

    /// `-a d_k^2 u` in every variable (`-a Laplacian`).
    pub fn laplacian(mut self, a: f64) -> Self {
        self.a = vec![constant(a); self.dim()];
        self
    }

    /// Advection `b(x) d_k u` in variable `k`.
    pub fn advection(mut self, k: usize, b: Field) -> Result<Self> {
        self.check_var(k, "pde advection")?;
        self.b[k] = b;
        Ok(self)
    }

    /// Reaction `kappa(x) u`.
    pub fn reaction(mut self, kappa: Field) -> Self {
        self.kappa = kappa;
        self
    }

    /// A pointwise nonlinear term `N(u)` given with its derivative, linearized in the Jacobian
    /// (`J_i = J^L_i + N'(v_i) J^val_i`).
    pub fn nonlinearity(mut self, n: Nonlinearity) -> Self {
        self.nonlinearity = Some(n);
        self
    }

    /// `c u^3` (derivative `3 c u^2`).
    pub fn cubic(self, c: f64) -> Self {
        self.nonlinearity(Arc::new(move |u| (c * u * u * u, 3.0 * c * u * u)))
    }

    /// Right-hand side `f`.
    pub fn rhs(mut self, f: Field) -> Self {
        self.rhs = f;
        self
    }

    /// Dirichlet data `u = g` imposed by boundary collocation rows with weight `weight > 0`
    /// (rows `sqrt(weight) (v - g)`).
    pub fn dirichlet(mut self, g: Field, weight: f64) -> Result<Self> {
        if !(weight.is_finite() && weight > 0.0) {
            return Err(Error::param(
                "dirichlet weight",
                format!("{weight}; use a finite positive weight"),
            ));
        }
        self.dirichlet = Some((g, weight));
        Ok(self)
    }
}

/// Collocation points: interior points and boundary points (rows of `N x d` matrices).
#[derive(Debug, Clone)]
pub struct Collocation {
    /// Interior points (residual rows of the equation).
    pub interior: Array2<f64>,
    /// Boundary points (Dirichlet rows; unused without Dirichlet data).
    pub boundary: Array2<f64>,
}

impl Collocation {
    /// `n_interior` uniform random points in the open box and `n_per_face` uniform random
    /// points on each of its `2d` faces (in 1-D: the two end points, `n_per_face` ignored).
    pub fn random(
        domain: &[(f64, f64)],
        n_interior: usize,
        n_per_face: usize,
        rng: &mut impl Rng,
    ) -> Collocation {
        let d = domain.len();
        let interior = Array2::from_shape_fn((n_interior, d), |(_, k)| {
            let (lo, hi) = domain[k];
            lo + (hi - lo) * rng.random::<f64>()
        });
        let mut rows = Vec::new();
        if d == 1 {
            rows.push(vec![domain[0].0]);
            rows.push(vec![domain[0].1]);
        } else {
            for face in 0..2 * d {
                let (k, side) = (face / 2, face % 2);
                for _ in 0..n_per_face {
                    let p: Vec<f64> = (0..d)
                        .map(|j| {
                            let (lo, hi) = domain[j];
                            if j == k {
                                if side == 0 {
                                    lo
                                } else {
                                    hi
                                }
                            } else {
                                lo + (hi - lo) * rng.random::<f64>()
                            }
                        })
                        .collect();
                    rows.push(p);
                }
            }
        }
        let boundary = Array2::from_shape_fn((rows.len(), d), |(i, k)| rows[i][k]);
        Collocation { interior, boundary }
    }

    /// Interior Gauss–Legendre nodes of a 1-D interval (`n` points) and its two end points.
    pub fn gauss_1d(lo: f64, hi: f64, n: usize) -> Result<Collocation> {
        let rule = crate::basis::quadrature::gauss_legendre(n)?;
        let interior = Array2::from_shape_fn((n, 1), |(i, _)| {
            lo + (hi - lo) * (rule.nodes[i] + 1.0) / 2.0
        });
        let boundary = Array2::from_shape_vec((2, 1), vec![lo, hi]).expect("2 x 1");
        Ok(Collocation { interior, boundary })
    }
}

/// Raw family `(1 - t^2) sqrt(2j+1) P_j(t)`, `j < n`, with derivatives of orders 1 and 2.
fn boundary_family(n: usize) -> FnFamily {
    let eval = move |t: f64, order: usize, out: &mut [f64]| {
        let n = out.len();
        let mut p = vec![0.0; n];
        let mut p1 = vec![0.0; n];
        let mut p2 = vec![0.0; n];
        crate::basis::legendre::legendre_into(t, 0, &mut p);
        crate::basis::legendre::legendre_into(t, 1, &mut p1);
        crate::basis::legendre::legendre_into(t, 2, &mut p2);
        let w = 1.0 - t * t;
        for j in 0..n {
            out[j] = match order {
                0 => w * p[j],
                1 => -2.0 * t * p[j] + w * p1[j],
                _ => -2.0 * p[j] - 4.0 * t * p1[j] + w * p2[j],
            };
        }
    };
    FnFamily::new(n, move |t, out| eval(t, 0, out)).with_derivatives(move |t, order, out| {
        if order > 2 {
            return false;
        }
        eval(t, order, out);
        true
    })
}

/// `n` features vanishing at `t = +-1`: `(1 - t^2) P_j(t)`, `j < n`, orthonormalized for the
/// uniform measure (exact Gauss rule with `n + 3` nodes: the products have degree `2n + 2`).
/// They span the polynomials of degree `<= n + 1` that vanish on the boundary.
pub fn boundary_vanishing(n: usize) -> Result<Orthonormalized<FnFamily>> {
    if n == 0 {
        return Err(Error::param(
            "basis",
            "boundary-vanishing basis needs n >= 1",
        ));
    }
    Orthonormalized::new(boundary_family(n), Measure::Uniform, n + 3)
}

/// The residual rows of a [`Pde`] at fixed collocation points, for one feature map.
pub struct ResidualProblem {
    /// Feature values at all rows (interior first, then boundary), one `M x n_k` per mode.
    phi: Vec<Array2<f64>>,
    /// Modified features `chi_k` (zero on boundary rows).
    chi: Vec<Array2<f64>>,
    /// Value coefficient of the linear part: `kappa(x^i)` inside, `sqrt(w)` on the boundary.
    kappa: Array1<f64>,
    /// Right-hand side of each row: `f(x^i)` inside, `sqrt(w) g(x^i)` on the boundary.
    rhs: Array1<f64>,
    n_interior: usize,
    nonlinearity: Option<Nonlinearity>,
}

impl ResidualProblem {
    /// Features, coefficients and right-hand sides at the points (boundary points are used
    /// only when the PDE has Dirichlet data).
    pub fn new<B: FeatureBasis>(
        pde: &Pde,
        fm: &FeatureMap<B>,
        points: &Collocation,
    ) -> Result<Self> {
        let d = pde.dim();
        if fm.n_variables() != d || points.interior.ncols() != d {
            return Err(Error::param(
                "pde",
                format!(
                    "{d} variables, {} in the feature map, {} columns of collocation points",
                    fm.n_variables(),
                    points.interior.ncols()
                ),
            ));
        }
        let boundary = match &pde.dirichlet {
            Some(_) => points.boundary.view(),
            None => points.boundary.slice(ndarray::s![0..0, ..]),
        };
        let n_in = points.interior.nrows();
        let n_b = boundary.nrows();
        if n_in == 0 {
            return Err(Error::param("collocation", "no interior points"));
        }
        let all = ndarray::concatenate(ndarray::Axis(0), &[points.interior.view(), boundary])
            .map_err(|e| Error::param("collocation", e.to_string()))?;
        let policy = OutsidePolicy::Extrapolate;
        let phi = fm.derivatives(all.view(), 0, policy)?;
        let d1 = fm.derivatives(all.view(), 1, policy)?;
        let d2 = fm.derivatives(all.view(), 2, policy)?;
        let field = |f: &Field, rows: ArrayView2<'_, f64>| -> Array1<f64> {
            Array1::from_iter(rows.rows().into_iter().map(|r| f(&r.to_vec())))
        };
        let inside = points.interior.view();
        let mut chi = Vec::with_capacity(d);
        for k in 0..d {
            let mut a = field(&pde.a[k], inside).to_vec();
            let mut b = field(&pde.b[k], inside).to_vec();
            a.resize(n_in + n_b, 0.0);
            b.resize(n_in + n_b, 0.0);
            chi.push(
                modified_features(
                    d2[k].view(),
                    d1[k].view(),
                    ArrayView1::from(&a),
                    ArrayView1::from(&b),
                )
                .map_err(Error::from)?,
            );
        }
        let mut kappa = field(&pde.kappa, inside).to_vec();
        let mut rhs = field(&pde.rhs, inside).to_vec();
        if let Some((g, w)) = &pde.dirichlet {
            let s = w.sqrt();
            kappa.extend(std::iter::repeat_n(s, n_b));
            rhs.extend(field(g, boundary).iter().map(|v| s * v));
        }
        if rhs.iter().chain(&kappa).any(|v| !v.is_finite()) {
            return Err(Error::param(
                "pde",
                "a coefficient, right-hand side or boundary value is not finite at a collocation point",
            ));
        }
        Ok(ResidualProblem {
            phi,
            chi,
            kappa: Array1::from(kappa),
            rhs: Array1::from(rhs),
            n_interior: n_in,
            nonlinearity: pde.nonlinearity.clone(),
        })
    }

    /// Number of rows `M` (interior + boundary).
    pub fn n_rows(&self) -> usize {
        self.rhs.len()
    }

    /// Number of interior rows.
    pub fn n_interior(&self) -> usize {
        self.n_interior
    }

    /// Feature values at the rows.
    pub fn feature_views(&self) -> Vec<ArrayView2<'_, f64>> {
        self.phi.iter().map(|a| a.view()).collect()
    }

    fn operator_features<'a>(
        &'a self,
        tt: &TensorTrain,
        kappa: ArrayView1<'a, f64>,
    ) -> Result<OperatorFeatures<'a>> {
        Ok(OperatorFeatures::new(
            tt,
            self.feature_views(),
            self.chi.iter().map(|a| a.view()).collect(),
            kappa,
        )?)
    }

    /// Residual rows from the values and derivative part at the rows.
    fn rows_from(&self, v: ArrayView1<'_, f64>, deriv: ArrayView1<'_, f64>) -> Array1<f64> {
        let mut r = &deriv + &(&self.kappa * &v) - &self.rhs;
        if let Some(n) = &self.nonlinearity {
            for i in 0..self.n_interior {
                r[i] += n(v[i]).0;
            }
        }
        r
    }

    /// Residual rows `R_i` of any TT (two-state evaluation, `O(M d n r^2)`).
    pub fn residual(&self, tt: &TensorTrain) -> Result<Array1<f64>> {
        let of = self.operator_features(tt, self.kappa.view())?;
        let (v, deriv) = derivative_values(tt, &of)?;
        Ok(self.rows_from(v.view(), deriv.view()))
    }

    /// Loss `(1/2M) sum_i R_i^2`.
    pub fn loss_of(r: ArrayView1<'_, f64>) -> f64 {
        r.dot(&r) / (2.0 * r.len() as f64)
    }

    /// The linearization at `ts` (with the plain interfaces `si` at the rows, see
    /// [`ResidualProblem::interfaces`]).
    pub fn linearize<'a>(
        &'a self,
        ts: &'a TangentSpace,
        si: &'a SampleInterfaces,
        kappa_lin: &'a Array1<f64>,
    ) -> Result<ResidualLinearization<'a>> {
        let of = self.operator_features(ts.point(), kappa_lin.view())?;
        Ok(ResidualLinearization {
            op: OperatorLinearization::new(ts, si, of)?,
        })
    }

    /// Plain interfaces of the base point of `ts` at the rows.
    pub fn interfaces(&self, ts: &TangentSpace, par: Par) -> Result<SampleInterfaces> {
        Ok(SampleInterfaces::new(ts, &self.feature_views(), par)?)
    }

    /// The value coefficient of the linearization at values `v`: `kappa_i + N'(v_i)` inside.
    pub fn kappa_lin(&self, v: ArrayView1<'_, f64>) -> Array1<f64> {
        let mut k = self.kappa.clone();
        if let Some(n) = &self.nonlinearity {
            for i in 0..self.n_interior {
                k[i] += n(v[i]).1;
            }
        }
        k
    }

    /// Residual rows at the base point of a linearization (no extra sweep).
    pub fn residual_at(&self, lin: &ResidualLinearization<'_>) -> Array1<f64> {
        self.rows_from(lin.op.values(), lin.op.derivative_part())
    }
}

/// The Jacobian of the residual rows in tangent coordinates at one iterate (a
/// [`LinearizedModel`]): `J_i = E_X^T (sum_k phi_1 (x) .. chi_k .. (x) phi_d + kappa_lin_i Phi)(x^i)`.
pub struct ResidualLinearization<'a> {
    op: OperatorLinearization<'a>,
}

impl<'a> ResidualLinearization<'a> {
    /// The underlying operator kernels.
    pub fn operator(&self) -> &OperatorLinearization<'a> {
        &self.op
    }
}

impl LinearizedModel for ResidualLinearization<'_> {
    fn n_rows(&self) -> usize {
        self.op.n_rows()
    }
    fn dim(&self) -> usize {
        self.op.tangent_space().dim()
    }
    fn block_offsets(&self) -> &[usize] {
        self.op.tangent_space().block_offsets()
    }
    fn jvp(&self, c: ArrayView1<'_, f64>, _par: Par) -> Result<Array1<f64>> {
        Ok(self.op.jvp(c)?)
    }
    fn vjp(&self, w: ArrayView1<'_, f64>, par: Par) -> Result<Array1<f64>> {
        Ok(self.op.vjp(w, par)?)
    }
    fn jacobian_rows_into(&self, rows: Range<usize>, out: ArrayViewMut2<'_, f64>) -> Result<()> {
        Ok(self.op.jacobian_rows_into(rows, out)?)
    }
}

/// The residual least-squares objective (MATH.md §8 "PDE residual"): rows `R(X)`, loss
/// `(1/2M) ||R||^2`, `l' = R`, `l'' = 1`, so the Gauss–Newton Gram is `J^T J / M` (the energy
/// natural gradient) and the natural direction is `argmin ||J d + R||`. The nonlinearity
/// enters the Jacobian linearized (`kappa + N'(v)`, kept in [`Prepared::row_coefficients`]).
impl Objective for ResidualProblem {
    fn prepare(&self, x: &TensorTrain, par: Par) -> Result<Prepared> {
        let ts = TangentSpace::new(x)?;
        let si = self.interfaces(&ts, par)?;
        let kappa_lin = self.kappa_lin(si.values());
        let r = self.residual(x)?;
        let loss = Self::loss_of(r.view());
        if !loss.is_finite() {
            return Err(Error::Diverged {
                iteration: 0,
                message: format!(
                    "the residual loss is {loss}; lower the step size or check the PDE data"
                ),
            });
        }
        let m = r.len();
        Ok(Prepared {
            ts,
            si,
            pred: r.clone(),
            d1: r,
            d2: Array1::ones(m),
            loss,
            constraint: None,
            metric_scale: 1.0,
            curvature: 0.0,
            factors: None,
            row_coefficients: Some(kappa_lin),
        })
    }
    fn linearize<'p>(&'p self, p: &'p Prepared) -> Result<Box<dyn LinearizedModel + 'p>> {
        let kappa = p.row_coefficients.as_ref().ok_or_else(|| {
            Error::param(
                "pde objective",
                "the point was not prepared by this residual problem",
            )
        })?;
        Ok(Box::new(ResidualProblem::linearize(
            self, &p.ts, &p.si, kappa,
        )?))
    }
    fn rows(&self, x: &TensorTrain, _par: Par) -> Result<Array1<f64>> {
        self.residual(x)
    }
    fn loss(&self, rows: ArrayView1<'_, f64>) -> f64 {
        Self::loss_of(rows)
    }
    fn derivatives(&self, rows: ArrayView1<'_, f64>) -> RowDerivatives {
        RowDerivatives {
            d1: rows.to_owned(),
            d2: Array1::ones(rows.len()),
            factors: None,
        }
    }
    fn measure_weights(&self) -> Option<ArrayView1<'_, f64>> {
        None
    }
    fn tangent_rows(&self, _t: &TensorTrain, _par: Par) -> Result<Array1<f64>> {
        // J_{k-1} c_{k-1} needs the linearization at X_{k-1}, which is not kept
        Err(Error::param(
            "momentum",
            "the residual rows of the carried momentum variable were not kept with the state; \
             resume from a state saved in full-batch mode, or use the iterate-difference form",
        ))
    }
    fn gradient(&self, p: &Prepared, par: Par) -> Result<TangentVector> {
        let lin = Objective::linearize(self, p)?;
        let w = &p.d1 / p.d1.len() as f64;
        Ok(p.ts.from_coords(lin.vjp(w.view(), par)?.view())?)
    }
    fn tangent_values(&self, p: &Prepared, xi: &TangentVector, par: Par) -> Result<Array1<f64>> {
        let lin = Objective::linearize(self, p)?;
        lin.jvp(p.ts.to_coords(xi)?.view(), par)
    }
}
