// Every tolerance the suite uses, with its reason. Errors are measured relative to the largest
// magnitude of the reference (a max-norm relative error), so one small element does not dominate.

/** float32 GPU kernels against a float64 CPU reference: rounding of float32 accumulations over a
 *  few hundred terms stays well below 1e-5; 1e-4 leaves room for exp/log/tanh builtins. */
export const FORWARD_REL = 1e-4;

/** GPU gradients (float32) against central finite differences of the float64 reference
 *  (step 1e-6, truncation error ~1e-10): the float32 backward dominates. */
export const GRAD_REL = 1e-3;

/** Model outputs against the PyTorch fixtures (shared/fixtures/README.md): float32 on both sides,
 *  different summation orders through a dozen layers. */
export const FIXTURE_OUTPUT_REL = 1e-4;
export const FIXTURE_GRAD_REL = 1e-3;
