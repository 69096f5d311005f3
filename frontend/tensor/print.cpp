// Printing tensors.
