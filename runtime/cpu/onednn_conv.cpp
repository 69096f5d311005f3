// oneDNN convolution and pooling wrappers.
