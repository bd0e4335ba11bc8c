"""The bundled sample class for problem set 4 (VGG and GoogLeNet): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps04_vgg_googlenet as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "branch_order_swapped", "cho_branches")
