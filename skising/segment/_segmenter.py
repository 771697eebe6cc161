r"""Binary image segmentation with a learned Ising field (Section 4.1, App. C).

Pixels are the nodes of an 8-neighbour grid; the coupling is the 3x3 kernel
of eq. 17-18 (``J = coupling`` for all 8 neighbours); a U-Net predicts the
external field ``h`` from the image; a sample ``x`` of
:math:`p(x) \propto e^{-\beta E(x)}` is the segmentation (+1 = foreground).
Training minimises the expected pixel misclassification rate (eq. 19),

.. math:: \ell(x, y) = \frac{1}{HW}\sum_p [x_p \ne y_p],

which is not differentiable in ``x``, with the RLOO estimator of
:mod:`skising.gradients` and the shared training loop of
:class:`~skising._base.BaseIsingEstimator` (``credit="image"``, eq. 15),
or with per-pixel credit (``credit="local"``, below); the grid path
(:class:`~skising.sampling.GridCouplings`) samples every image and chain of a
batch in one ``conv2d`` per colour.

:class:`UNetSegmenter` is the plain baseline: the same U-Net trained with
binary cross-entropy, with the same data handling and API.

Per-pixel credit
----------------
Eq. 15 multiplies the difference of the two samples' *image* losses by the
difference of their energies, so every pixel where the samples differ is
credited with the misclassifications of the whole image, most of which it
did not cause: with ``K = 2`` only the few pixels where the two samples
differ get a gradient, and it is drowned in the other pixels' noise. The loss of eq. 19
is a sum over pixels and the field enters the energy pixel by pixel
(:math:`\partial E / \partial h_p = -x_p`), so the exact gradient is
:math:`\partial_{h_p} \mathbb{E}[\ell] = \beta \sum_q \mathrm{Cov}(m_q, x_p)`
with :math:`m_q = [x_q \ne y_q]`. ``credit="local"`` keeps the terms with
:math:`q` in the ``(2 r + 1)^2`` window around :math:`p`
(``r = credit_radius``) and estimates them with the same leave-one-out
baseline, per pixel:

.. math:: \hat g_p = \frac{\beta}{K - 1} \sum_k (L_{kp} - \bar L_p)\, x_{kp},
   \qquad L_{kp} = \sum_{|q - p|_\infty \le r} m_{kq} / (HW).

It is unbiased when the coupling is zero (pixels independent) and biased by
the dropped correlations beyond ``r`` otherwise; its variance is much
lower, since a pixel no longer carries the loss noise of the whole image.
This is an extension, not the paper's estimator;
``benchmarks/results/segment.md`` compares both.
"""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch.nn import functional as F

from .._base import BaseIsingEstimator, Int
from .._seeds import item_key, stream_generator
from .._validation import check_int
from ..sampling import GridCouplings, grid_kernel

__all__ = ["IsingSegmenter"]

_PREDICTIONS = ("majority", "sample", "mean_field")
_CREDITS = ("image", "local")


from ._common import _check_images, _check_masks, _SegmenterMixin  # noqa: F401


class _ImageBatch:
    """A training batch of images: ``X`` (B, C, H, W), masks ``y`` (B, H, W) and its ``items``."""

    def __init__(self, items):
        self.items = items
        self.X = torch.stack([x for x, _ in items])
        self.y = torch.stack([m for _, m in items])
        B, _, H, W = self.X.shape
        self.shape = (B, H, W)


class IsingSegmenter(_SegmenterMixin, BaseIsingEstimator):
    r"""Binary image segmentation by sampling a grid Ising model with a learned field.

    A U-Net (Table 2 of the paper) maps the image to the external field
    ``h``; pixels interact with their 8 neighbours through the 3x3 coupling
    kernel (eq. 17-18); samples of :math:`e^{-\beta E(x)}` are
    segmentations (+1 = foreground). The field network is trained to
    minimise the expected misclassification rate (eq. 19) with the RLOO
    estimator; the epoch with the best validation Dice is kept.

    Parameters
    ----------
    field_model : torch.nn.Module class or instance, optional
        Maps images ``(B, C, H, W)`` to fields ``(B, 1, H, W)``. Default:
        :class:`UNet` with the input's channel count.
    coupling : float or array-like of shape (3, 3)
        ``J`` of all 8 neighbours (eq. 18: 1), or a point-symmetric 3x3
        kernel with zero centre. ``J = 1`` is deep in the ordered phase of
        the 8-neighbour lattice (critical ``beta J`` about 0.19): the
        neighbours' field (up to 8) overrides a field of the size the
        network starts with, thin parts are eroded, and RLOO must first
        grow ``|h|`` several-fold. A coupling just above the critical one
        (``coupling=0.25``) trains faster; ``doc/segment.md`` compares them.
    beta : float >= 0
        Inverse temperature (1 in the paper).
    n_samples : int >= 2
        Samples per image for the RLOO gradient (2 in the paper).
    n_sweeps : int >= 1
        Sweeps of the 4-colour sampler per sample (from a random start).
    update : {"metropolis", "heat_bath"}
    credit : {"image", "local"}
        ``"image"`` (the paper's eq. 15): every pixel is credited with its
        image's loss difference. ``"local"``: each pixel is credited with
        the misclassifications in its ``(2 credit_radius + 1)^2`` window
        only (see the module notes; an extension with a small bias when
        the coupling is non-zero and a much smaller variance).
        ``doc/segment.md`` compares both.
    credit_radius : int >= 0
        Window radius for ``credit="local"`` (0: the pixel alone).
    max_epochs : int >= 0
    lr : float > 0
        Adam learning rate.
    batch_size : int >= 1
        Images per step.
    target_fraction : float in (0, 1) or None
        When set, adds ``penalty * (eta_det - (2 f - 1))^2`` (eq. 16); the
        paper's segmentation uses none.
    penalty : float >= 0
    prediction : {"majority", "sample", "mean_field"}
        How :meth:`predict` turns the field into a mask: the per-pixel
        majority of ``n_predict_samples`` samples (default), one sample, or
        the sign of the mean-field magnetisation (eq. 11; deterministic).
    n_predict_samples : int >= 1
        Samples for :meth:`predict_proba` and majority prediction.
    device : str or torch.device
    random_state : None or int
        Seeds the network initialisation, batch order and sampler. At
        inference every image draws from its own random stream, derived
        from the seed and the image's content (the ``"sample"`` stream of
        :data:`skising._seeds.SEED_STREAMS`): :meth:`predict`,
        :meth:`predict_proba` and :meth:`sample` are repeatable, and an
        image's result does not depend on the images passed with it.
    verbose : int
    epochs : deprecated
        Former name of ``max_epochs``; setting it warns (``FutureWarning``).

    Notes
    -----
    Defaults (``coupling=0.25, credit="local", n_samples=4, lr=1e-3,
    batch_size=8``) are the settings measured best on Weizmann horses at
    64 px and confirmed at 128 px (``benchmarks/results/segment.md``). The
    paper's settings are ``coupling=1.0, credit="image", n_samples=2,
    lr=1e-4, batch_size=32``.

    Attributes
    ----------
    field_model_ : torch.nn.Module
        The trained field network (best validation epoch when validation
        data were given).
    history_ : list of dict
        Per epoch: mean training loss (misclassification rate of the
        samples), seconds, and ``val_score`` (validation Dice) when given.
    best_epoch_ : int
        Epoch kept (with validation data).
    n_channels_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skising.segment import IsingSegmenter
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((4, 16, 16, 3)); y = X[..., 0] > 0.5
    >>> seg = IsingSegmenter(max_epochs=1, batch_size=4, random_state=0).fit(X, y)
    >>> seg.predict(X).shape, seg.predict(X).dtype
    ((4, 16, 16), dtype('bool'))
    """

    _parameter_constraints: ClassVar[dict] = {
        **BaseIsingEstimator._parameter_constraints,
        # a number (J on all 8 neighbours) or a 3x3 kernel, checked by grid_kernel
        "coupling": [Interval(Real, None, None, closed="neither"), "array-like", torch.Tensor],
        "credit": [StrOptions(set(_CREDITS))],
        "credit_radius": [Int(0)],
        "prediction": [StrOptions(set(_PREDICTIONS))],
        "n_predict_samples": [Int(1)],
    }

    def __init__(
        self,
        field_model=None,
        coupling=0.25,
        beta=1.0,
        n_samples=4,
        n_sweeps=10,
        update="metropolis",
        credit="local",
        credit_radius=0,
        max_epochs=50,
        lr=1e-3,
        batch_size=8,
        target_fraction=None,
        penalty=1.0,
        prediction="majority",
        n_predict_samples=16,
        device="cpu",
        random_state=None,
        verbose=0,
        epochs="deprecated",
    ):
        self.field_model = field_model
        self.coupling = coupling
        self.beta = beta
        self.n_samples = n_samples
        self.n_sweeps = n_sweeps
        self.update = update
        self.credit = credit
        self.credit_radius = credit_radius
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.target_fraction = target_fraction
        self.penalty = penalty
        self.prediction = prediction
        self.n_predict_samples = n_predict_samples
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.epochs = epochs

    # ------------------------------------------------------------ hooks of the fit template and the shared loop
    def _fit_data(self, X, y, X_val, y_val):
        """Images ``X`` (n_images, height, width, channels): uint8 (scaled by 1/255) or floats, grey images
        may omit the channel axis; binary masks ``y`` (n_images, height, width), True / 1 = foreground;
        ``X_val, y_val``: validation images and masks, the epoch with the best mean Dice on them is kept."""
        self.kernel_ = grid_kernel(self.coupling, device=self._device)
        Xa, ya, val = self._image_data(X, y, X_val, y_val)
        Xt = torch.as_tensor(Xa, device=self._device)
        yt = torch.as_tensor(ya, device=self._device)
        return list(zip(Xt, yt)), val

    def _collate(self, items):
        return _ImageBatch(items)

    def _node_batch(self, batch):
        B, H, W = batch.shape  # pixel -> image, for the magnetisation penalty
        return torch.arange(B, device=self._device).repeat_interleave(H * W)

    def _batch_extent(self, batch):
        B, H, W = batch.shape
        return B * H * W, 0

    def _field(self, batch):
        return self._forward(batch.X).reshape(-1)

    def _couplings(self, batch):
        return self.kernel_

    def _sample_batch(self, batch, h, J, n_chains, gen, n_sweeps=None):
        return GridCouplings(J, batch.shape).sample(
            h.detach().reshape(batch.shape), n_chains, self.n_sweeps if n_sweeps is None else n_sweeps,
            float(self.beta), self.update, "random", gen,
        )

    def _energy_batch(self, batch, x, h, J):
        if self.credit == "image":
            return GridCouplings(J, batch.shape).energy(x, h.reshape(batch.shape))
        # per pixel: the field term -h_p x_p (the coupling term has no parameters), scaled so that the
        # loop's mean over pixels of (window loss) x (this) has the image credit's gradient scale
        w = 2 * int(self.credit_radius) + 1
        return -(w * w) * (h.reshape(batch.shape)[None] * x).reshape(x.shape[0], -1)

    def _task_loss(self, x, batch):
        """Eq. 19: fraction of misclassified pixels per sample and image, (K, B);
        with ``credit="local"`` per sample and pixel, (K, B*H*W): the misclassified
        fraction of the pixel's window (its mean is the image loss, up to borders)."""
        wrong = ((x > 0) != batch.y[None]).float()
        if self.credit == "image":
            return wrong.mean((-2, -1))
        K, B, H, W = wrong.shape
        r = int(self.credit_radius)
        if r:
            wrong = F.avg_pool2d(wrong.reshape(K * B, 1, H, W), 2 * r + 1, stride=1, padding=r,
                                 count_include_pad=True)
        return wrong.reshape(K, -1)

    def _validation_score(self, val):
        """Mean Dice of the predictions on the validation images and masks ``val = (X_val, y_val)``."""
        return self._selection_score(*val)

    # ------------------------------------------------------------ prediction
    def field(self, X):
        """The learned Ising field ``h`` per pixel, (n_images, height, width) (same as :meth:`decision_function`)."""
        return self.decision_function(X)

    def _samples(self, Xa, n):
        """Spins (n, n_images, H, W) of the fitted model for standardised images, each image
        from its own stream (seed and content): the same whatever the other images."""
        h = self._outputs(Xa)
        out = []
        for b in range(h.shape[0]):  # loop over images: one random stream each
            gen = stream_generator(self._seed, "sample", self._device, item_key(Xa[b]))
            out.append(GridCouplings(self.kernel_, h[b : b + 1].shape).sample(
                h[b : b + 1], n, self.n_sweeps, float(self.beta), self.update, "random", gen))
        return torch.cat(out, 1)

    def _predict_std(self, Xa):
        if self.prediction == "mean_field":
            h = self._outputs(Xa)
            m = GridCouplings(self.kernel_, h.shape).mean_field(h, float(self.beta), tol=1e-5, max_iter=200,
                                                                final_step=False)
            return (m > 0).cpu().numpy()
        if self.prediction == "sample":
            return (self._samples(Xa, 1)[0] > 0).cpu().numpy()
        x = self._samples(Xa, int(self.n_predict_samples))
        return ((x > 0).float().mean(0) > 0.5).cpu().numpy()

    def predict(self, X):
        """Binary masks (n_images, height, width), True = foreground.

        See ``prediction`` for how samples become a mask.
        """
        self._check_fitted()
        return self._predict_std(self._transform_images(X))

    def predict_proba(self, X):
        """Per-pixel foreground probability, estimated as the average of
        ``n_predict_samples`` samples; array of shape (n_images, height, width)."""
        self._check_fitted()
        x = self._samples(self._transform_images(X), int(self.n_predict_samples))
        return (x > 0).float().mean(0).cpu().numpy()

    def sample(self, X, n_samples=1):
        """Draw ``n_samples`` segmentations per image: bool (n_samples, n_images, H, W)."""
        self._check_fitted()
        n_samples = check_int(n_samples, "n_samples", low=1)
        return (self._samples(self._transform_images(X), n_samples) > 0).cpu().numpy()
