"""Log-losses from logits, in a numerically stable form, and the penalized objective (see
``jaxlr._core.losses``)."""

from ._core.losses import binary_cross_entropy as binary_cross_entropy
from ._core.losses import binary_log_loss as binary_log_loss
from ._core.losses import log_loss as log_loss
from ._core.losses import objective as objective
from ._core.losses import objective_from_logits as objective_from_logits
from ._core.losses import penalty as penalty
from ._core.losses import smooth_objective as smooth_objective
from ._core.losses import softmax_cross_entropy as softmax_cross_entropy
from ._core.losses import softmax_log_loss as softmax_log_loss
from ._core.losses import weighted_mean as weighted_mean

__all__ = ["binary_log_loss", "softmax_log_loss", "log_loss", "binary_cross_entropy", "softmax_cross_entropy",
           "penalty", "objective", "objective_from_logits", "smooth_objective", "weighted_mean"]
