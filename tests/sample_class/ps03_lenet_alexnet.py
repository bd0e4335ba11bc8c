"""The bundled sample class for problem set 3 (LeNet-5 and AlexNet): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps03_lenet_alexnet as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "lrn_alpha_not_scaled", "cho_lrn")
