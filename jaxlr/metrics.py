"""Classification metrics as pure ``jnp`` functions of logits and labels (see ``jaxlr._core.metrics``)."""

from ._core.metrics import accuracy as accuracy
from ._core.metrics import log_loss as log_loss
from ._core.metrics import roc_auc as roc_auc

__all__ = ["accuracy", "log_loss", "roc_auc"]
