"""Dataset loaders and generators. Real data lives in the data home (see
:func:`get_data_home`); a tiny real sample ships with the package."""

from ._bundled import load_bunny
from ._home import data_path, get_data_home
from ..mesh import mesh_edges, mesh_graph, read_off, write_off  # re-exported from skising.mesh
from ._psb import PSB_CATEGORIES, load_psb, load_psb_segmentation

__all__ = ["get_data_home", "data_path", "load_bunny", "read_off", "write_off", "mesh_edges", "load_psb",
           "load_psb_segmentation", "mesh_graph", "PSB_CATEGORIES"]

from ._matrices import (
    list_suitesparse,
    load_suitesparse_matrix,
    load_suitesparse_windows,
    make_banded_binary_matrices,
    read_matrix_market,
    split_matrices,
)

__all__ += [
    "make_banded_binary_matrices",
    "load_suitesparse_windows",
    "load_suitesparse_matrix",
    "list_suitesparse",
    "read_matrix_market",
    "split_matrices",
]

from ._ba2motifs import load_ba2motifs, make_ba2motifs
from ._tu import load_mutagenicity, load_tu, toxicophore_node_masks

__all__ += ["load_ba2motifs", "make_ba2motifs", "load_mutagenicity", "load_tu", "toxicophore_node_masks"]

from ._horse import load_weizmann_horse

__all__ += ["load_weizmann_horse"]
