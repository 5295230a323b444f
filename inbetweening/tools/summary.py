"""--mode=summary: parameters per module and the FLOPs of one train step, computed from
shapes alone (jax.eval_shape and XLA's cost analysis of the lowered step), so even the
paper's configuration summarises in seconds on a CPU."""

import jax
import ml_collections
import numpy as np
from jax.extend import core as jax_core

from inbetweening.config.validation import validate
from inbetweening.models import create_models
from inbetweening.runtime import sharding
from inbetweening.storage.paths import user_path, write_json
from inbetweening.training import train


def count_parameters(params) -> dict[str, int]:
    """{"kernel_params": values in convolution and dense kernels, "params": all values}."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    is_kernel = lambda path: getattr(path[-1], "key", None) == "kernel"
    return {
        "kernel_params": int(sum(np.prod(leaf.shape) for path, leaf in leaves if is_kernel(path))),
        "params": int(sum(np.prod(leaf.shape) for _, leaf in leaves)),
    }


def flops(fn, *args) -> float:
    """XLA's cost analysis of jax.jit(fn) on args (arrays or ShapeDtypeStructs), with
    every scan's body counted once per iteration: XLA counts a loop's body once (the
    fast convolutions' kernel gradients loop over the kernel's taps)."""
    closed = jax.make_jaxpr(fn)(*args)
    return _xla_flops(closed) + _uncounted_iterations_flops(closed.jaxpr)


def _xla_flops(closed: jax_core.ClosedJaxpr) -> float:
    avals = [jax.ShapeDtypeStruct(aval.shape, aval.dtype) for aval in closed.in_avals]
    lowered = jax.jit(jax_core.jaxpr_as_fun(closed)).lower(*avals)
    # Backends behind PJRT's C API (jax's CUDA plugin) analyse only compiled programs.
    cost = lowered.cost_analysis() or lowered.compile().cost_analysis()
    return float(cost.get("flops", 0.0))


def _uncounted_iterations_flops(jaxpr: jax_core.Jaxpr) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "scan":
            body, length = eqn.params["jaxpr"], eqn.params["length"]
            total += (length - 1) * _xla_flops(body) + length * _uncounted_iterations_flops(
                body.jaxpr
            )
        else:
            total += sum(
                _uncounted_iterations_flops(sub) for sub in jax_core.jaxprs_in_params(eqn.params)
            )
    return total


def train_step_flops(config: ml_collections.ConfigDict, models, state) -> float:
    m = config.model
    videos = jax.ShapeDtypeStruct(
        (config.batch_size, m.num_frames, m.image_size, m.image_size, m.image_channels), np.uint8
    )
    return flops(train.jit_train_step(config, models, sharding.make_mesh()), state, videos)


def parameter_counts(state) -> dict:
    """Kernel and all parameters of each network and of each of the generator's modules,
    from the abstract train state (nothing is compiled)."""
    return {
        "generator": count_parameters(state.g_params),
        "video_discriminator": count_parameters(state.d_params["video"]),
        "image_discriminator": count_parameters(state.d_params["image"]),
        "generator_modules": {
            name: count_parameters(tree) for name, tree in state.g_params.items()
        },
    }


def summarize(config: ml_collections.ConfigDict) -> dict:
    validate(config, jax.device_count())
    models = create_models(config.model)
    state = train.abstract_train_state(config, models)
    return {
        **parameter_counts(state),
        "train_step_flops": train_step_flops(config, models, state),
    }


def format_table(result: dict) -> str:
    rows = [("module", "kernel_params", "params")]
    for name, counts in result["generator_modules"].items():
        rows.append((f"generator/{name}", counts["kernel_params"], counts["params"]))
    for name in ("generator", "video_discriminator", "image_discriminator"):
        rows.append((name, result[name]["kernel_params"], result[name]["params"]))
    lines = [
        f"{a:<40} {b:>14} {c:>14}" if i == 0 else f"{a:<40} {b:>14,} {c:>14,}"
        for i, (a, b, c) in enumerate(rows)
    ]
    lines.append(
        f"train step FLOPs (batch {result['batch_size']}): {result['train_step_flops']:.4g}"
    )
    return "\n".join(lines)


def write_summary(config: ml_collections.ConfigDict, workdir: str) -> dict:
    result = {**summarize(config), "batch_size": config.batch_size}
    print(format_table(result))
    write_json(user_path(workdir) / "summary.json", result)
    return result
