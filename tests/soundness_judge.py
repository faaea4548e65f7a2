"""The fuzzer's independent judge: the discrete family's reference evaluator, which lives in the
package (elbo_sym.engine.reference.discrete) so that the product path's second opinion and the
tests are one code."""

from elbo_sym.engine.reference.discrete import *  # noqa: F403
from elbo_sym.engine.reference.discrete import _ONE_SIDED, _TWO_SIDED  # noqa: F401
