"""Placing a fit or a sweep on a device mesh, with JAX's own sharding (see ``jaxlr._train.mesh``)."""

from ._train.mesh import AXES as AXES
from ._train.mesh import DATA as DATA
from ._train.mesh import MODELS as MODELS
from ._train.mesh import axis_size as axis_size
from ._train.mesh import check_mesh as check_mesh
from ._train.mesh import make_mesh as make_mesh
from ._train.mesh import put as put
from ._train.mesh import put_tree as put_tree
from ._train.mesh import replicate as replicate
from ._train.mesh import spec as spec
from ._train.mesh import to_host as to_host

__all__ = ["AXES", "DATA", "MODELS", "axis_size", "check_mesh", "make_mesh", "put", "put_tree", "replicate", "spec",
           "to_host"]
