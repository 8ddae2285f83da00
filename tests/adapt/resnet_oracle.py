#!/usr/bin/python3
"""A random torchvision-style Bottleneck ResNet (7x7 stride-2 stem + max-pool, stride on the
3x3 conv as torchvision's Bottleneck, downsample 1x1 + BN) written as a model folder, a
channels-last image set, and PyTorch's eval logits before / after update_bn: the oracle of
resnet_bottleneck_test.cpp (torchvision itself is not installed; the modules below repeat
its definitions). Usage: resnet_oracle.py OUT_DIR SEED"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

out, seed = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
torch.manual_seed(seed)


class Bottleneck(nn.Module):  # torchvision.models.resnet.Bottleneck, expansion 4
    def __init__(self, inplanes, planes, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):  # torchvision.models.resnet.ResNet
    def __init__(self, layers, planes, classes):
        super().__init__()
        self.inplanes = 8
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (n, p) in enumerate(zip(layers, planes)):
            setattr(self, f"layer{i + 1}", self._make_layer(p, n, 1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(planes[-1] * 4, classes)

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes * 4))
        mods = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        mods += [Bottleneck(self.inplanes, planes, 1, None) for _ in range(1, blocks)]
        return nn.Sequential(*mods)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for i in range(1, 5):
            x = getattr(self, f"layer{i}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def save(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    dtypes = {torch.float32: "F32", torch.int64: "I64", torch.uint8: "U8"}
    for name, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


model = ResNet([1, 2, 1, 1], [4, 8, 8, 16], 7)
for m in model.modules():  # trained-looking BatchNorms: non-trivial affine and statistics
    if isinstance(m, nn.BatchNorm2d):
        m.weight.data.uniform_(0.5, 1.5)
        m.bias.data.uniform_(-0.3, 0.3)
        m.running_mean.uniform_(-0.5, 0.5)
        m.running_var.uniform_(0.5, 2.0)
        m.num_batches_tracked.fill_(42)
model.eval()
save(os.path.join(out, "model.safetensors"), model.state_dict())
mean, std = [0.48, 0.45, 0.40], [0.23, 0.22, 0.26]
json.dump({"input_normalization": {"mean": mean, "std": std},
           "architecture": {"layers": [1, 2, 1, 1], "widths": [4, 8, 8, 16], "num_classes": 7}},
          open(os.path.join(out, "config.json"), "w"))

N, H, W = 20, 45, 38
images = torch.randint(0, 256, (N, H, W, 3), dtype=torch.uint8)  # channels last
labels = torch.randint(0, 7, (N,))
save(os.path.join(out, "data.safetensors"), {"images": images, "labels": labels})
x = (images.permute(0, 3, 1, 2).float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
with torch.no_grad():
    expected = {"logits.before": model(x)}
    loader = [(x[i:i + 7],) for i in range(0, N, 7)]  # batches 7, 7, 6
    torch.optim.swa_utils.update_bn(loader, model)
    model.eval()
    expected["logits.update_bn"] = model(x)
for k, v in model.state_dict().items():
    if "running" in k or "num_batches" in k:
        expected["update_bn." + k] = v
save(os.path.join(out, "expected.safetensors"), expected)
