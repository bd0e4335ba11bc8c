"""The bundled sample class for problem set 5 (ResNet and ResNeXt): see ``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps05_resnet_resnext as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "relu_before_add", "cho_relu")
