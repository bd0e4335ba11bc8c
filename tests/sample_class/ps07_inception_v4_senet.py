"""The bundled sample class for problem set 7 (SENet and Inception-v4): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps07_inception_v4_senet as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "se_after_addition", "cho_se_sum")
