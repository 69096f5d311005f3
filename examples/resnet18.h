// resnet18 (He et al. 2015) from tl layers, with torchvision's module and parameter names so
// torchvision's state dict loads by name. Used by examples/12_resnet.cpp and by the training
// benchmark (bench/resnet_train.cpp).
#pragma once

#include <tl/tl.h>

#include <string>

namespace resnet {

namespace nn = tl::nn;

// Two 3x3 convolutions with batch norm and a residual connection; `downsample` (a 1x1
// convolution and a batch norm) matches the shortcut's shape when the block changes it.
struct BasicBlock : nn::Module {
  nn::Conv2d conv1, conv2;
  nn::BatchNorm2d bn1, bn2;
  nn::ReLU relu;
  nn::Sequential downsample;  // empty: the identity

  BasicBlock(int64_t in_channels, int64_t channels, int64_t stride)
      : conv1(in_channels, channels, 3, {.stride = stride, .padding = 1, .bias = false}),
        conv2(channels, channels, 3, {.padding = 1, .bias = false}),
        bn1(channels),
        bn2(channels) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("relu", relu);
    register_module("conv2", conv2);
    register_module("bn2", bn2);
    if (stride != 1 || in_channels != channels) {
      downsample.push_back(nn::Conv2d(in_channels, channels, 1, {.stride = stride, .bias = false}));
      downsample.push_back(nn::BatchNorm2d(channels));
      register_module("downsample", downsample);
    }
  }

  tl::Tensor forward(const tl::Tensor& x) override {
    tl::Tensor identity = downsample.size() > 0 ? downsample(x) : x;
    tl::Tensor out = relu(bn1(conv1(x)));
    return relu(bn2(conv2(out)) + identity);
  }
};

// torchvision.models.resnet18: a 7x7 stem, four stages of two BasicBlocks (64, 128, 256, 512
// channels; the last three halve the resolution), global average pooling and a classifier.
struct ResNet18 : nn::Module {
  nn::Conv2d conv1{3, 64, 7, {.stride = 2, .padding = 3, .bias = false}};
  nn::BatchNorm2d bn1{64};
  nn::ReLU relu;
  nn::MaxPool2d maxpool{3, {.stride = 2, .padding = 1}};
  nn::Sequential layer1, layer2, layer3, layer4;
  nn::AdaptiveAvgPool2d avgpool{1};
  nn::Linear fc;

  explicit ResNet18(int64_t num_classes = 1000) : fc(512, num_classes) {
    register_module("conv1", conv1);
    register_module("bn1", bn1);
    register_module("relu", relu);
    register_module("maxpool", maxpool);
    const int64_t widths[] = {64, 128, 256, 512};
    nn::Sequential* stages[] = {&layer1, &layer2, &layer3, &layer4};
    for (int i = 0; i < 4; ++i) {
      const int64_t in = widths[i > 0 ? i - 1 : 0];
      stages[i]->push_back(BasicBlock(in, widths[i], i == 0 ? 1 : 2));
      stages[i]->push_back(BasicBlock(widths[i], widths[i], 1));
      register_module("layer" + std::to_string(i + 1), *stages[i]);
    }
    register_module("avgpool", avgpool);
    register_module("fc", fc);
  }

  tl::Tensor forward(const tl::Tensor& x) override {
    tl::Tensor h = maxpool(relu(bn1(conv1(x))));
    h = layer4(layer3(layer2(layer1(h))));
    return fc(avgpool(h).flatten(1));
  }
};

}  // namespace resnet
