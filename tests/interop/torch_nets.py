"""PyTorch twins of two sinreq networks (nets/cifar10net.yaml,
nets/resnet20.yaml), with module names of their own where the converter
must be told or must work out which sinreq layer is which."""
import torch
from torch import nn


def cifar10net(classes=10, fc1_out=120):
    # an nn.Sequential: module names "0", "3", ... match by order only
    return nn.Sequential(
        nn.Conv2d(3, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, fc1_out), nn.ReLU(),
        nn.Linear(fc1_out, 84), nn.ReLU(),
        nn.Linear(84, classes))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.downsample is None else self.downsample(x)
        return torch.relu(y + s)


class ResNet20(nn.Module):
    """sinreq's resnet20 with the stem and the classifier named
    differently (stem, stem_bn, classifier): a --map names them."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(16)
        cin = 16
        for s, cout in enumerate((16, 32, 64)):
            blocks = []
            for i in range(3):
                blocks.append(BasicBlock(cin, cout, 2 if s and not i else 1))
                cin = cout
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.classifier = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.relu(self.stem_bn(self.stem(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.classifier(x)


RESNET20_MAP = {"stem": "conv1", "stem_bn": "bn1", "classifier": "fc"}


def randomise_bn(model, gen):
    """BN statistics and affine parameters away from their defaults, so a
    wrong mapping of any of the four shows in the logits."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=gen))
                m.bias.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_mean.copy_(0.2 * torch.randn(c, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(c, generator=gen))
