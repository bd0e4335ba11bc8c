"""The bundled sample class for problem set 8 (Xception, MobileNet, ShuffleNet): see
``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps08_efficient_nets as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "relu6_after_projection", "cho_relu6")
