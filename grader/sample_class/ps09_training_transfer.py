"""Problem set 9's sample class: training loops and transfer learning."""
from . import mistake, three_students

BATCH_MEAN_LOSS = mistake(
    "ps09_training_transfer", "train_batch_mean_loss",
    "train_one_epoch averages the batch losses over batches of unequal size",
    "train_one_epoch_answer", ("total += loss.item() * len(labels)", "total += loss.item()"),
    ("count += len(labels)", "count += 1"))
STUDENTS = three_students("cho_batch_mean", BATCH_MEAN_LOSS)
