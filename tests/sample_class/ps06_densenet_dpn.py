"""The bundled sample class for problem set 6 (DenseNet and DPN): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps06_densenet_dpn as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "adds_like_resnet", "cho_adds")
