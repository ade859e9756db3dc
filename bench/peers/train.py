"""PyTorch's side of the train suite (bench/suites/train.ts): the same ResNets (bench/peers/
resnets.py, torchvision's layout), the same batch shapes, one step = zero_grad, forward,
cross-entropy, backward, torch.optim.SGD(momentum 0.9, weight decay 5e-4). Variants: NCHW and
channels-last (model and batch converted once, outside the timing); the faster is reported."""
from types import SimpleNamespace as NS

import torch
import torch.nn.functional as F

from common import Op, serve
from resnets import CifarResNet, ImagenetResNet


def make(p):
    torch.manual_seed(0)
    model = CifarResNet(p["depth"], p["classes"]) if p["arch"] == 0 else ImagenetResNet(p["depth"], p["c"], p["classes"])
    x = torch.rand(p["batch"], p["c"], p["hw"], p["hw"]) * 2 - 1
    labels = torch.arange(p["batch"]) * 7 % p["classes"]
    return NS(model=model, x=x, labels=labels, opt=None)


def stepper(channels_last):
    def step(t):
        if t.opt is None:  # first call: lay out once, then build the optimizer over the final tensors
            if channels_last:
                t.model = t.model.to(memory_format=torch.channels_last)
                t.x = t.x.contiguous(memory_format=torch.channels_last)
            t.opt = torch.optim.SGD(t.model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        t.opt.zero_grad(set_to_none=False)
        F.cross_entropy(t.model(t.x), t.labels).backward()
        t.opt.step()
    return step


OPS = {
    "train_step": Op(
        make=make, expected=None, result=None,
        variants={"SGD step (NCHW)": stepper(False), "SGD step (channels-last)": stepper(True)},
    ),
}

if __name__ == "__main__":
    serve(OPS)
