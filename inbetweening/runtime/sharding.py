"""Where arrays live: the device mesh, the batch's and the train state's shardings, and
global batches made of each process's slice.

The mesh has two axes: "data" and "fsdp". The batch is split over both (every device gets
its share of examples); parameters and optimizer state are split over "fsdp" only
(fully sharded data parallelism within a group of fsdp devices, replicated across groups).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"
FSDP_AXIS = "fsdp"


def make_mesh(devices=None, fsdp: int = 1) -> Mesh:
    """A (data, fsdp) mesh over `devices` (default: every device of every process), fsdp
    devices per group, ordered by jax.make_mesh (topology-aware on TPU; elsewhere the
    devices' own order, so with one process per host a group whose size divides the
    host's device count stays on one host). Axes are "auto": jit places the rest."""
    devices = list(devices if devices is not None else jax.devices())
    return jax.make_mesh(
        (len(devices) // fsdp, fsdp),
        (DATA_AXIS, FSDP_AXIS),
        axis_types=(AxisType.Auto, AxisType.Auto),
        devices=devices,
    )


def data_mesh(devices) -> Mesh:
    """A one-axis ("data") mesh over `devices`, for work that only splits a batch."""
    devices = list(devices)
    return jax.make_mesh(
        (len(devices),), (DATA_AXIS,), axis_types=(AxisType.Auto,), devices=devices
    )


def batch_sharding(mesh: Mesh, stacked: bool = False) -> NamedSharding:
    """The batch axis split over every axis of `mesh`: the leading axis, or with `stacked`
    the second (batches [K, B, ...] of K steps taken in one call)."""
    axes = tuple(mesh.axis_names)
    return NamedSharding(mesh, PartitionSpec(None, axes) if stacked else PartitionSpec(axes))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def state_shardings(state, mesh: Mesh):
    """A tree of shardings for `state` (arrays or jax.ShapeDtypeStructs): each float array
    split over "fsdp" along its largest axis that the fsdp size divides; the rest (step,
    key, Adam's counts, arrays with no such axis) replicated."""
    fsdp = mesh.shape[FSDP_AXIS]

    def sharding(leaf):
        if fsdp == 1 or not jnp.issubdtype(leaf.dtype, jnp.floating):
            return replicated(mesh)
        divisible = [
            axis
            for axis in np.argsort(leaf.shape, kind="stable")[::-1]
            if leaf.shape[axis] % fsdp == 0
        ]
        if not divisible:
            return replicated(mesh)
        spec = [None] * len(leaf.shape)
        spec[divisible[0]] = FSDP_AXIS
        return NamedSharding(mesh, PartitionSpec(*spec))

    return jax.tree.map(sharding, state)


def global_batch(local_videos: np.ndarray, mesh: Mesh, stacked: bool = False) -> jax.Array:
    """This process's uint8 slice of the batch (with `stacked`, of K batches [K, B_local,
    ...]) -> one global array sharded over the mesh."""
    return jax.make_array_from_process_local_data(batch_sharding(mesh, stacked), local_videos)
