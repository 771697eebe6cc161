"""scikit-learn's estimator checks on skising's estimators.

skising's estimators take graphs, meshes, sparse matrices or image stacks,
not the tabular arrays that :func:`sklearn.utils.estimator_checks.check_estimator`
feeds them. :func:`expected_failed_checks` lists the checks that fail for
that reason alone, so that the whole suite runs to the end::

    from sklearn.utils.estimator_checks import check_estimator
    from skising import RandomSubsampler
    from skising.estimator_checks import expected_failed_checks

    est = RandomSubsampler(0.3, random_state=0)
    check_estimator(est, expected_failed_checks=expected_failed_checks(est))

Every other check (construction, ``get_params``/``set_params``, ``clone``,
no work in ``__init__``, tags, ...) must pass; ``tests/test_common.py``
runs this on every public estimator and also checks that each listed
failure is raised by skising's own input validation, naming ``X``.
"""

from __future__ import annotations

__all__ = ["expected_failed_checks", "TABULAR_INPUT_CHECKS"]

_REASON = "feeds tabular numpy/scipy data; {name} takes {what}"

#: Checks of scikit-learn that fit or transform tabular arrays.
TABULAR_INPUT_CHECKS = (
    "check_complex_data",
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimator_sparse_array",
    "check_estimator_sparse_matrix",
    "check_estimator_sparse_tag",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit1d",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
)

_INPUTS = {
    "SAIPreconditioner": "square sparse matrices",
    "IsingSegmenter": "image stacks (n_images, height, width, channels)",
    "UNetSegmenter": "image stacks (n_images, height, width, channels)",
    "IsingGraphExplainer": "lists of torch_geometric Data graphs",
    "MeshSparsifier": "triangle meshes",
    "PointSamplerSubsampler": "triangle meshes",
}


# checks of the list that an estimator passes all the same (an image stack rejects 1-D input as sklearn wants)
_PASSES_ANYWAY = {
    "IsingSegmenter": {"check_fit1d"},
    "UNetSegmenter": {"check_fit1d"},
}


def expected_failed_checks(estimator):
    """``{check name: reason}`` of the scikit-learn checks ``estimator`` fails only for its non-tabular input.

    Parameters
    ----------
    estimator : a skising estimator (instance)

    Returns
    -------
    dict
        To pass as ``expected_failed_checks`` to
        :func:`sklearn.utils.estimator_checks.check_estimator` or
        :func:`~sklearn.utils.estimator_checks.parametrize_with_checks`.

    Examples
    --------
    >>> from skising import RandomSubsampler
    >>> from skising.estimator_checks import expected_failed_checks
    >>> reasons = expected_failed_checks(RandomSubsampler())
    >>> reasons["check_fit2d_1sample"]
    'feeds tabular numpy/scipy data; RandomSubsampler takes graphs (scipy adjacency, edge_index, networkx, PyG Data)'
    """
    name = type(estimator).__name__
    what = _INPUTS.get(name, "graphs (scipy adjacency, edge_index, networkx, PyG Data)")
    skip = _PASSES_ANYWAY.get(name, set())
    return {check: _REASON.format(name=name, what=what) for check in TABULAR_INPUT_CHECKS if check not in skip}
