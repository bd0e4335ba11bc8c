"""The bundled sample class for problem set 9 (training loops and transfer learning): see
``ps01_convolution.py``.

Three students: the model solution, the untouched release, and one realistic
mistake from the catalog.
"""
from tests.catalog import ps09_training_transfer as catalog
from tests.sample_class import three_students

STUDENTS = three_students(catalog, "train_batch_mean_loss", "cho_batch_mean")
