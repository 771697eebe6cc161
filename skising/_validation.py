"""One place for input checks: every public entry point validates here and
then calls a private kernel that trusts its input.

Every error names the offending argument.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from .graph import Graph, as_graph

__all__ = [
    "check_graph",
    "check_field",
    "check_coupling",
    "check_scalar",
    "check_int",
    "check_device",
    "check_generator",
    "check_seed_type",
    "seed_from",
    "check_loss",
    "check_init",
]


def check_graph(graph, name="graph"):
    """Any supported graph input -> :class:`skising.graph.Graph`."""
    return as_graph(graph, name=name)


def check_scalar(value, name, *, low=None, high=None, low_inclusive=True, allow_none=False):
    """A finite real number within bounds."""
    if value is None and allow_none:
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        op = ">=" if low_inclusive else ">"
        raise ValueError(f"{name}: expected {op} {low}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name}: expected <= {high}, got {value!r}")
    return value


def check_int(value, name, *, low=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return value


def check_device(device, name="device"):
    """``None``/str/``torch.device`` -> ``torch.device`` that exists here."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name}: {device!r} is not a torch device (use 'cpu' or 'cuda')") from exc
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name}: unsupported device type {dev.type!r}; use 'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}: {device!r} requested but CUDA is not available on this machine; use 'cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"{name}: {device!r} requested but MPS is not available on this machine; use 'cpu'")
    return dev


_SEED_TYPES = "None, an int >= 0, a numpy RandomState/Generator"


def check_seed_type(random_state, name="random_state", allow_generator=False):
    """Type check of a ``random_state`` that draws nothing from it (for validation before ``fit``)."""
    if random_state is None or isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return
    if allow_generator and isinstance(random_state, torch.Generator):
        return
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"{name}: expected a non-negative seed, got {random_state}")
        return
    extra = " or a torch.Generator" if allow_generator else ""
    raise TypeError(f"{name}: expected {_SEED_TYPES}{extra}, got {type(random_state).__name__}")


def seed_from(random_state, name="random_state"):
    """The one seed normaliser: ``random_state`` -> an int seed in ``[0, 2**63)``.

    An int is used as is; a numpy ``RandomState``/``Generator`` is drawn from
    once; ``None`` takes fresh entropy from the operating system (not
    reproducible).
    """
    check_seed_type(random_state, name)
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    return int(random_state)


def check_generator(random_state, device=None, name="random_state"):
    """``None`` / int / numpy RandomState or Generator / ``torch.Generator`` -> ``torch.Generator``.

    A ``torch.Generator`` is used as is (its stream advances). ``None`` draws
    a seed from torch's global generator, so ``torch.manual_seed`` makes it
    reproducible, as for torch's own random functions; anything else goes
    through :func:`seed_from`, so an int gives the same stream on the same
    device every time.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    if isinstance(random_state, torch.Generator):
        if random_state.device.type != device.type:
            raise ValueError(f"{name}: generator is on {random_state.device}, tensors on {device}")
        return random_state
    check_seed_type(random_state, name, allow_generator=True)
    seed = int(torch.randint(0, 2**62, (1,)).item()) if random_state is None else seed_from(random_state, name)
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def check_field(field, n_nodes, name="field", device=None, dtype=torch.float32, allow_grad=True):
    """Field ``h`` of shape ``(n,)`` or ``(n_chains, n)`` as a finite float tensor."""
    if isinstance(field, numbers.Real) and not isinstance(field, bool):
        field = torch.full((n_nodes,), float(field))
    if isinstance(field, torch.Tensor):
        t = field if allow_grad else field.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(field, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected an array of real numbers, got {type(field).__name__}") from exc
    if not t.is_floating_point():
        if t.dtype == torch.bool or t.is_complex():
            raise TypeError(f"{name}: expected real numbers, got dtype {t.dtype}")
        t = t.to(dtype)
    if t.dim() not in (1, 2) or t.shape[-1] != n_nodes:
        raise ValueError(f"{name}: expected shape ({n_nodes},) or (n_chains, {n_nodes}), got {tuple(t.shape)}")
    if not torch.isfinite(t.detach()).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    if device is not None:
        t = t.to(device)
    return t.to(dtype)


def check_coupling(coupling, graph: Graph, name="coupling", device=None, dtype=torch.float32):
    """Scalar coupling (scales the graph's edge weights) or per-edge ``J`` of shape ``(m,)``.

    Returns the per-edge couplings ``J_e`` as a tensor of shape ``(m,)`` (kept
    differentiable when a tensor requiring grad is passed).
    """
    device = graph.device if device is None else device
    w = graph.weight.to(device=device, dtype=dtype)
    if isinstance(coupling, torch.Tensor) and coupling.dim() == 0:
        if not torch.isfinite(coupling.detach()):
            raise ValueError(f"{name}: expected a finite number, got {coupling.item()!r}")
        return coupling.to(device=device, dtype=dtype) * w
    if isinstance(coupling, numbers.Real) and not isinstance(coupling, bool):
        return check_scalar(coupling, name) * w
    if isinstance(coupling, torch.Tensor):
        t = coupling
    else:
        try:
            t = torch.as_tensor(np.asarray(coupling, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}: expected a number or an array of {graph.num_edges} per-edge values") from exc
    if t.dim() != 1 or t.numel() != graph.num_edges:
        raise ValueError(
            f"{name}: expected a scalar or {graph.num_edges} per-edge values (one per undirected edge, "
            f"in the order of graph.edges), got shape {tuple(t.shape)}"
        )
    if not torch.isfinite(t.detach()).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t.to(device=device, dtype=dtype)


def check_init(init, n_chains, n_nodes, device, dtype):
    if isinstance(init, str):
        if init not in ("random", "up", "down"):
            raise ValueError(f"init: expected 'random', 'up', 'down' or a spin array, got {init!r}")
        return init
    t = torch.as_tensor(init.detach() if isinstance(init, torch.Tensor) else np.asarray(init))
    if t.dim() == 1:
        t = t[None].expand(n_chains, -1)
    if tuple(t.shape) != (n_chains, n_nodes):
        raise ValueError(f"init: expected shape ({n_nodes},) or ({n_chains}, {n_nodes}), got {tuple(t.shape)}")
    if t.dtype == torch.bool:
        t = t.to(dtype) * 2 - 1
    t = t.to(device=device, dtype=dtype)
    if not ((t == 1) | (t == -1)).all():
        raise ValueError("init: spins must be -1 or +1 (or booleans)")
    return t


def check_loss(loss, name="loss"):
    """A loss must be a callable ``loss(x, context) -> tensor``."""
    if loss is None or not callable(loss):
        raise TypeError(
            f"{name}: expected a callable loss(x, graph) -> tensor of shape (n_samples,) or "
            f"(n_samples, n_graphs), got {type(loss).__name__}"
        )
    return loss


def check_graphs(X, name="X"):
    """One graph or a sequence of graphs -> (list of Graph, was_single).

    A PyG ``Batch`` is split into its graphs; a list/tuple/PyG dataset is a
    collection; anything else is one graph.
    """
    try:
        from torch_geometric.data import Batch, Data
        from torch_geometric.data import Dataset as PygDataset
    except ImportError:  # pragma: no cover
        Batch = Data = PygDataset = ()
    if isinstance(X, Graph):
        if X.batch is not None and X.num_graphs > 1:
            raise ValueError(f"{name}: pass a list of graphs instead of a batched skising Graph")
        return [X], True
    if Batch and isinstance(X, Batch):
        return [as_graph(d, name=f"{name}[{i}]") for i, d in enumerate(X.to_data_list())], False
    if isinstance(X, (list, tuple)) or (PygDataset and isinstance(X, PygDataset)):
        if len(X) == 0:
            raise ValueError(f"{name}: empty collection of graphs")
        # a (2, E) edge_index given as nested lists is one graph
        if isinstance(X, (list, tuple)) and len(X) == 2 and all(
            isinstance(r, (list, tuple)) and all(isinstance(v, numbers.Integral) for v in r) for r in X
        ):
            return [as_graph(np.asarray(X), name=name)], True
        return [as_graph(g, name=f"{name}[{i}]") for i, g in enumerate(X)], False
    return [as_graph(X, name=name)], True


def available_memory(device=None):
    """Bytes of memory available for new tensors on ``device`` (None if unknown)."""
    dev = torch.device("cpu") if device is None else torch.device(device)
    if dev.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(dev)[0])
        except Exception:  # noqa: BLE001 - best effort
            return None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover
        return None


def check_memory(nbytes, what, hint, device=None, fraction=0.8):
    """Raise ``MemoryError`` naming the estimate and the parameter to change
    when ``nbytes`` exceeds ``fraction`` of the memory available on ``device``."""
    avail = available_memory(device)
    if avail is not None and nbytes > fraction * avail:
        raise MemoryError(
            f"{what} needs about {nbytes / 2**30:.2f} GiB but only {avail / 2**30:.2f} GiB are available "
            f"on {torch.device('cpu') if device is None else device}; {hint}"
        )
