"""
Energy convergence of the sampler on PSB busts (paper Appendix A, Figure 6)
==========================================================================

How many sweeps does the per-colour Metropolis sampler need? We sample the
zero-field Ising model on all 20 PSB bust meshes at once (one batched graph),
4 chains per mesh from random starts, and track the energy per vertex after
every sweep for ferromagnetic (``J = +1``) and antiferromagnetic
(``J = -1``, the sparsification setting) couplings at temperatures
``T = 1/beta`` in {0.01, 0.1, 1}. Curves are the mean +/- std over meshes and
chains.

With ``J = -1`` the energy settles within a handful of sweeps at every
temperature (frustrated triangles: no long-range order to build). With
``J = +1`` at low temperature, domains coarsen slowly and the energy keeps
falling over many sweeps, as in the paper's figure.

The energy is recorded after every sweep up to sweep 10 and every 5 sweeps
after that: each call of :func:`~skising.sampling.sample_ising` has a fixed
cost (input checks, set-up) on top of its sweeps, so fewer calls keep the
example to about a minute of CPU time.

Run ``python examples/plot_energy_convergence.py`` (``--every 1`` records
every sweep); it prints the table below the figure and writes
``doc/figures/energy_convergence.png``.
"""

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from skising.datasets import load_psb  # noqa: E402
from skising.graph import batch_graphs  # noqa: E402
from skising.sampling import ising_energy, sample_ising  # noqa: E402


def energy_curves(g, coupling, beta, n_chains, sweeps, seed):
    """Energy per vertex after each of the (increasing) sweep counts ``sweeps``,
    shape (len(sweeps), n_chains * n_graphs)."""
    gen = torch.Generator().manual_seed(seed)
    sizes = (g.ptr[1:] - g.ptr[:-1]).double()
    x = sample_ising(g, 0.0, coupling=coupling, beta=beta, n_chains=n_chains, n_sweeps=0, random_state=gen)
    out, done = [], 0
    for k in sweeps:  # continue the same chains up to the next recorded sweep
        if k > done:
            x = sample_ising(g, 0.0, coupling=coupling, beta=beta, n_chains=n_chains, n_sweeps=k - done, init=x,
                             random_state=gen)
            done = k
        out.append(ising_energy(g, x, 0.0, coupling) / sizes)
    return torch.stack(out).reshape(len(sweeps), -1).numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--sweeps", type=int, default=40)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--meshes", type=int, default=20, help="how many bust meshes (of 20)")
    p.add_argument("--every", type=int, default=5, help="record the energy every EVERY sweeps after sweep 10")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "doc" / "figures" / "energy_convergence.png"))
    args = p.parse_args()
    meshes = load_psb("bust")[: args.meshes]
    g = batch_graphs(meshes)
    print(f"{len(meshes)} bust meshes, {g.num_nodes:,} vertices in all, {args.chains} chains each")
    temps = [0.01, 0.1, 1.0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    sweeps = sorted(set(range(min(10, args.sweeps) + 1)) | set(range(10, args.sweeps + 1, args.every)) | {args.sweeps})
    t = np.array(sweeps)
    print(f"\n{'J':>3} {'T':>5} | energy per vertex after sweep 1 / 2 / 5 / 10 / {args.sweeps} | "
          "first recorded sweep within 1% of the last")
    for ax, J in zip(axes, [1.0, -1.0]):
        for T, color in zip(temps, ["tab:blue", "tab:orange", "tab:green"]):
            E = energy_curves(g, J, 1.0 / T, args.chains, sweeps, seed=0)
            m, s = E.mean(1), E.std(1)
            ax.plot(t, m, ".-", color=color, label=f"T = {T:g}")
            ax.fill_between(t, m - s, m + s, color=color, alpha=0.25)
            final = m[-1]
            within = np.nonzero(np.abs(m - final) <= 0.01 * abs(final))[0]
            settle = int(t[within[0]])
            picks = " / ".join(f"{m[sweeps.index(k)]:.3f}" for k in (1, 2, 5, 10, args.sweeps) if k in sweeps)
            print(f"{J:+3.0f} {T:5g} | {picks} | {settle}")
        ax.set_title(f"J = {J:+g}")
        ax.set_xlabel("sweep")
        ax.set_ylabel("energy per vertex")
        ax.legend()
    fig.suptitle("Metropolis energy convergence on PSB busts (mean +/- std over meshes and chains)")
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
